"""What a run costs, from configs/prices.yaml and the token counts in the scores frame.

Billing assumption: `completion_tokens` already include reasoning tokens (the OpenAI and Z.ai
usage convention, where usage.completion_tokens_details.reasoning_tokens is a part of
completion_tokens), so reasoning is billed as output once and `reasoning_tokens` is never
added on top. Prompt tokens are priced at the full input rate (cache discounts not modelled).
Tokens are charged as reported whatever the row's status: a provider that reported usage
for a truncated or broken response billed it.

Which prices apply: each row's `provider` selects the preset listing it, unless the caller
names one preset for every row (e.g. a simulated run "priced as cometapi"). A provider with no
preset costs 0 and is labelled "unpriced"; a model missing from its preset, or priced null,
costs NaN so that a table shows "unknown" rather than a figure that is too low.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    PrivateAttr,
    field_validator,
    model_validator,
)

from harness.config import load
from harness.paths import PRICES
from harness.errors import UserError
from harness.stats.items import GROUP_KEYS, graded_mask, require_columns

DEFAULT_PRICES = PRICES
UNPRICED = "unpriced"
_PER_TOKEN = 1e-6


class PriceError(UserError):
    """A price file that cannot be used, or a price that is not known."""


class ModelPrice(BaseModel):
    """Price of one model in one preset, in the preset's currency per million tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input_per_mtok: NonNegativeFloat | None
    output_per_mtok: NonNegativeFloat | None
    unverified: bool = False
    note: str | None = None

    @model_validator(mode="after")
    def _null_only_when_unverified(self) -> ModelPrice:
        nulls = (self.input_per_mtok is None) + (self.output_per_mtok is None)
        if nulls == 1:
            raise ValueError("give both input_per_mtok and output_per_mtok, or null for both")
        if nulls and not self.unverified:
            raise ValueError("a null price needs `unverified: true` (and a note saying where to find it)")
        return self

    @property
    def known(self) -> bool:
        return self.input_per_mtok is not None and self.output_per_mtok is not None


class Preset(BaseModel):
    """A provider's price list, with where and when the figures were taken."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    currency: str
    date: datetime.date
    source: str = Field(min_length=1)
    providers: list[str] = Field(default_factory=list)
    unverified: bool = False
    note: str | None = None
    models: dict[str, ModelPrice] = Field(min_length=1)

    @field_validator("currency")
    @classmethod
    def _iso_code(cls, value: str) -> str:
        if not (len(value) == 3 and value.isascii() and value.isalpha() and value.isupper()):
            raise ValueError("currency must be a three-letter ISO 4217 code such as USD or CNY")
        return value


class PriceBook(BaseModel):
    """The whole price file: named presets."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    presets: dict[str, Preset] = Field(min_length=1)
    _path: str = PrivateAttr(default="<prices>")

    @model_validator(mode="after")
    def _one_preset_per_provider(self) -> PriceBook:
        seen: dict[str, str] = {}
        for name, preset in self.presets.items():
            for provider in preset.providers or [name]:
                if provider in seen:
                    raise ValueError(f"provider {provider!r} is listed by presets {seen[provider]!r} and {name!r}")
                seen[provider] = name
        return self

    def preset_for(self, provider: str) -> str | None:
        """The preset that prices `provider`, or None when none does (PRESET@HOST is priced as PRESET)."""
        provider = provider.partition("@")[0]
        for name, preset in self.presets.items():
            if provider in (preset.providers or [name]):
                return name
        return None

    def price_for(self, preset: str, model: str) -> ModelPrice:
        """A known price, or a PriceError that says which file and row to fix."""
        entry = self._preset(preset).models.get(model)
        if entry is None:
            raise PriceError(
                f"{self._path}: preset {preset!r} has no price for model {model!r}; "
                f"it prices {sorted(self.presets[preset].models)}"
            )
        if not entry.known:
            raise PriceError(
                f"{self._path}: presets.{preset}.models.{model} has no price yet (unverified): "
                f"fill in input_per_mtok and output_per_mtok. {entry.note or ''}".rstrip()
            )
        return entry

    def _preset(self, name: str) -> Preset:
        if name not in self.presets:
            raise PriceError(f"{self._path}: no preset {name!r}; presets are {sorted(self.presets)}")
        return self.presets[name]

    def _price_table(self) -> pd.DataFrame:
        rows = [
            (preset_name, model, price.input_per_mtok, price.output_per_mtok)
            for preset_name, preset in self.presets.items()
            for model, price in preset.models.items()
        ]
        table = pd.DataFrame(rows, columns=["priced_as", "model", "input_per_mtok", "output_per_mtok"])
        return table.set_index(["priced_as", "model"]).astype(float)


@dataclass(frozen=True)
class RunCost:
    """Total cost of the rows given. `cost` is NaN when some row's price is unknown; those
    (preset, model) pairs are listed in `unknown`."""

    cost: float
    currency: str | None
    priced_as: tuple[str, ...]
    unknown: tuple[str, ...]


def load_prices(path: Path | str = DEFAULT_PRICES) -> PriceBook:
    """Read and validate a price file; every problem names the file, the field and what fits."""
    path = Path(path)
    try:
        book = load(path, PriceBook)
    except UserError as error:
        raise PriceError(str(error)) from None
    book._path = str(path)
    return book


def row_costs(scores: pd.DataFrame, book: PriceBook, preset: str | None = None) -> pd.DataFrame:
    """Cost of each row, aligned with `scores.index`.

    Columns: priced_as (preset name or "unpriced"), currency (None when unpriced),
    input_cost, output_cost, cost. `preset` prices every row with that preset.
    """
    require_columns(scores, ["model", "provider", "prompt_tokens", "completion_tokens"], "row_costs")
    if preset is None:
        presets = {provider: book.preset_for(provider) or UNPRICED for provider in scores["provider"].unique()}
        priced_as = scores["provider"].map(presets)
    else:
        book._preset(preset)
        priced_as = pd.Series(preset, index=scores.index)
    prices = book._price_table().reindex(pd.MultiIndex.from_arrays([priced_as, scores["model"]]))
    unpriced = (priced_as == UNPRICED).to_numpy()
    input_rate = prices["input_per_mtok"].to_numpy().copy()
    output_rate = prices["output_per_mtok"].to_numpy().copy()
    input_rate[unpriced] = output_rate[unpriced] = 0.0
    input_cost = scores["prompt_tokens"].fillna(0).to_numpy(dtype=float) * input_rate * _PER_TOKEN
    output_cost = scores["completion_tokens"].fillna(0).to_numpy(dtype=float) * output_rate * _PER_TOKEN
    if "status" in scores.columns:
        # An answer whose server sent no usage was paid for all the same: its cost is unknown, not 0
        # (a failed request has no usage because nothing was billed).
        no_usage = (graded_mask(scores) & scores[["prompt_tokens", "completion_tokens"]].isna().any(axis=1)).to_numpy() & ~unpriced
        input_cost[no_usage] = output_cost[no_usage] = float("nan")
    currencies = {name: p.currency for name, p in book.presets.items()}
    return pd.DataFrame(
        {
            "priced_as": priced_as.to_numpy(),
            "currency": priced_as.map(currencies).astype(object).where(~unpriced, None).to_numpy(),
            "input_cost": input_cost,
            "output_cost": output_cost,
            "cost": input_cost + output_cost,
        },
        index=scores.index,
    )


def cost_summary(scores: pd.DataFrame, book: PriceBook, preset: str | None = None) -> pd.DataFrame:
    """Cost per (model, task) and per unit of result.

    Columns: model, task, priced_as ("+"-joined when several), currency, n_requests, n_items,
    n_correct (graded samples judged right), prompt_tokens, completion_tokens, cost,
    cost_per_request, cost_per_item, cost_per_correct. Cost is NaN when any row's price is
    unknown; cost_per_correct is NaN when nothing was right.
    """
    require_columns(scores, [*GROUP_KEYS, "item_id", "status", "correct"], "cost_summary")
    costs = row_costs(scores, book, preset)
    frame = scores[[*GROUP_KEYS, "item_id", "prompt_tokens", "completion_tokens"]].assign(
        _correct=scores["correct"].eq(True) & graded_mask(scores),
        priced_as=costs["priced_as"],
        currency=costs["currency"],
        cost=costs["cost"],
    )
    groups = frame.groupby(GROUP_KEYS, observed=True, sort=True)
    summary = groups.agg(
        priced_as=("priced_as", lambda names: "+".join(sorted(names.unique()))),
        currency=("currency", _single_currency),
        n_requests=("item_id", "size"),
        n_items=("item_id", "nunique"),
        n_correct=("_correct", "sum"),
        prompt_tokens=("prompt_tokens", "sum"),
        completion_tokens=("completion_tokens", "sum"),
        cost=("cost", "sum"),
    )
    summary["cost"] = summary["cost"].where(groups["cost"].count() == summary["n_requests"])
    summary["cost_per_request"] = summary["cost"] / summary["n_requests"]
    summary["cost_per_item"] = summary["cost"] / summary["n_items"]
    summary["cost_per_correct"] = summary["cost"] / summary["n_correct"].where(summary["n_correct"] > 0)
    return summary.reset_index()


def run_cost(scores: pd.DataFrame, book: PriceBook, preset: str | None = None) -> RunCost:
    """Total cost of a run, with the presets used so a report can say "priced as cometapi"."""
    costs = row_costs(scores, book, preset)
    missing = costs["cost"].isna()
    unknown = sorted({f"{p}/{m}" for p, m in zip(costs.loc[missing, "priced_as"], scores.loc[missing, "model"])})
    return RunCost(
        cost=float("nan") if unknown else float(costs["cost"].sum()),
        currency=_single_currency(costs["currency"]),
        priced_as=tuple(sorted(costs["priced_as"].unique())),
        unknown=tuple(unknown),
    )


def estimate_run_cost(
    n_requests: int, mean_prompt_tokens: float, mean_completion_tokens: float, price: ModelPrice
) -> float:
    """Expected cost of a run before it is sent (for --dry-run and sample-size advice)."""
    if not price.known:
        raise PriceError("this model's price is null (unverified) in the price file; fill it in first")
    per_request = mean_prompt_tokens * price.input_per_mtok + mean_completion_tokens * price.output_per_mtok
    return n_requests * per_request * _PER_TOKEN


def _single_currency(currencies: pd.Series) -> str | None:
    """Costs in different currencies cannot be added; say so instead of summing them."""
    found = sorted(currencies.dropna().unique())
    if len(found) > 1:
        raise PriceError(f"these rows are priced in several currencies {found}; price them with one preset")
    return found[0] if found else None
