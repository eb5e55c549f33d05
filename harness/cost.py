"""What a run costs, from configs/prices.yaml and the token counts in the scores frame.

Billing assumption: `completion_tokens` already include reasoning tokens (the OpenAI and Z.ai
usage convention, where usage.completion_tokens_details.reasoning_tokens is a part of
completion_tokens), so reasoning is billed as output once and `reasoning_tokens` is never
added on top. Cached prompt tokens (usage.prompt_tokens_details.cached_tokens, a part of
prompt_tokens) are priced at the row's `cached_input_per_mtok`, and cache writes
(OpenRouter's prompt_tokens_details.cache_write_tokens, also a part of prompt_tokens) at its
`cache_write_per_mtok`; a row without them prices those tokens at the full input rate. Tokens
are charged as reported whatever the row's status: a provider that reported usage for a
truncated or broken response billed it.

Where the provider says what a request cost (OpenRouter's `usage.cost`, in USD credits:
openrouter.ai/docs/use-cases/usage-accounting), that figure is the row's cost, and the price
table's figure for the same tokens is kept beside it (`table_cost`) so a report can say how far
the table is from the bill. A row answered through a batch API (`via` "batch") is priced at
its preset's `batch` factor (half price on BigModel: docs.bigmodel.cn/cn/faq/batch-api-issues).

Which prices apply: each row's `provider` selects the preset listing it, unless the caller
names one preset for every row (e.g. a simulated run "priced as cometapi"). A provider with no
preset costs 0 and is labelled "unpriced"; a model missing from its preset, or priced null,
costs NaN so that a table shows "unknown" rather than a figure that is too low.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
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
from harness.errors import UserError
from harness.paths import PRICES
from harness.records import Manifest
from harness.stats.items import GROUP_KEYS, graded_mask, require_columns

DEFAULT_PRICES = PRICES
UNPRICED = "unpriced"
_PER_TOKEN = 1e-6


class PriceError(UserError):
    """A price file that cannot be used, or a price that is not known."""


STALE_AFTER_DAYS = 90  # a price row older than this is said to be old wherever it is used
REPORTED = "reported"  # priced_as of a row whose only price is the one its provider reported
REPORTED_CURRENCY = "USD"  # OpenRouter's usage.cost is in credits, one credit a US dollar
SIMULATED_PRESET = "cometapi"  # a simulated run has no bill: its tokens are priced as this real provider's


class ModelPrice(BaseModel):
    """Price of one model in one preset, in the preset's currency per million tokens. `date` and
    `source` say when and where the row was read (the preset's own when the row gives none):
    prices change without notice, and a reader must be able to tell how old a figure is."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input_per_mtok: NonNegativeFloat | None
    output_per_mtok: NonNegativeFloat | None
    cached_input_per_mtok: NonNegativeFloat | None = Field(default=None, description="cache reads; None: the full input rate")
    cache_write_per_mtok: NonNegativeFloat | None = Field(default=None, description="cache writes; None: the full input rate")
    date: datetime.date | None = None
    source: str | None = None
    unverified: bool = False
    note: str | None = None

    def rates(self) -> tuple[float, float, float, float]:
        """(input, cached input, cache write, output) per million tokens, the cache rates filled in."""
        assert self.input_per_mtok is not None and self.output_per_mtok is not None
        cached = self.input_per_mtok if self.cached_input_per_mtok is None else self.cached_input_per_mtok
        write = self.input_per_mtok if self.cache_write_per_mtok is None else self.cache_write_per_mtok
        return self.input_per_mtok, cached, write, self.output_per_mtok

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


class BatchPricing(BaseModel):
    """What a batch API charges, as a factor on every rate of the preset's rows (0.5: half price)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    factor: float = Field(gt=0, le=1)
    date: datetime.date
    source: str = Field(min_length=1)
    unverified: bool = False
    note: str | None = None


class Preset(BaseModel):
    """A provider's price list, with where and when the figures were taken."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    currency: str
    date: datetime.date
    source: str = Field(min_length=1)
    providers: list[str] = Field(default_factory=list)
    unverified: bool = False
    note: str | None = None
    batch: BatchPricing | None = None
    models: dict[str, ModelPrice] = Field(min_length=1)

    def row_date(self, model: str) -> datetime.date:
        """When the row of `model` was read: its own date, else the preset's."""
        return self.models[model].date or self.date

    def row_source(self, model: str) -> str:
        return self.models[model].source or self.source

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

    def batch_factor(self, preset: str) -> float | None:
        """The factor a batch API applies to `preset`'s rates, or None when the file gives none."""
        batch = self._preset(preset).batch
        return None if batch is None else batch.factor

    def stale_rows(self, used: Iterable[tuple[str, str]], today: datetime.date | None = None,
                   max_age_days: int = STALE_AFTER_DAYS) -> list[str]:
        """The rows among `used` ((preset, model) pairs) read more than `max_age_days` before
        `today`, one entry per preset and date, "preset (read DATE, N days ago): model, model":
        a cost from them may no longer be the bill."""
        today = today or datetime.date.today()
        old: dict[tuple[str, datetime.date], list[str]] = {}
        for preset, model in sorted(set(used)):
            if preset not in self.presets or model not in self.presets[preset].models:
                continue
            read = self.presets[preset].row_date(model)
            if (today - read).days > max_age_days:
                old.setdefault((preset, read), []).append(model)
        return [f"{preset} (read {read}, {(today - read).days} days ago): {', '.join(models)}" for (preset, read), models in old.items()]

    def _price_table(self) -> pd.DataFrame:
        rows = []
        for preset_name, preset in self.presets.items():
            factor = preset.batch.factor if preset.batch is not None else float("nan")
            for model, price in preset.models.items():
                rates = price.rates() if price.known else (float("nan"),) * 4
                rows.append((preset_name, model, *rates, factor))
        columns = ["priced_as", "model", "input_per_mtok", "cached_input_per_mtok", "cache_write_per_mtok", "output_per_mtok", "batch_factor"]
        table = pd.DataFrame(rows, columns=columns)
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


def preset_of(book: PriceBook, provider: str | None, simulated: bool, price_as: str | None = None) -> str | None:
    """The one rule for the preset that prices a run, wherever it is priced (its --max-cost and dry
    run, its manifest, its report, the history, `glm-eval plan`), so that a run costs the same
    everywhere: `price_as` when given, else the provider's preset, else SIMULATED_PRESET for a
    simulated run (when the price file has it), else None: unpriced."""
    if price_as:
        return price_as
    preset = book.preset_for(provider) if provider else None
    if preset is None and simulated and SIMULATED_PRESET in book.presets:
        return SIMULATED_PRESET
    return preset


def run_preset(book: PriceBook, manifest: Manifest, price_as: str | None = None) -> str | None:
    """preset_of for a finished run: `price_as` over the one the run was told (`run --price-as`)."""
    provider = manifest.provider.preset or manifest.provider.name
    return preset_of(book, provider, manifest.simulated, price_as or manifest.price_as)


def request_cost(
    price: ModelPrice, prompt_tokens: float, completion_tokens: float, cached_tokens: float = 0, cache_write_tokens: float = 0,
    factor: float = 1.0,
) -> float:
    """One request's cost at the price table: cached and written prompt tokens (parts of
    prompt_tokens) at their own rates, the rest of the prompt at the input rate, `factor` on all
    (a batch API's discount)."""
    if not price.known:
        raise PriceError("this model's price is null (unverified) in the price file; fill it in first")
    full, cached, write, output = price.rates()
    fresh = max(0.0, prompt_tokens - cached_tokens - cache_write_tokens)
    return factor * (fresh * full + cached_tokens * cached + cache_write_tokens * write + completion_tokens * output) * _PER_TOKEN


def _column(scores: pd.DataFrame, name: str) -> np.ndarray:
    """A numeric column of the frame, zeros when the frame has none (a run written before it)."""
    if name not in scores.columns:
        return np.zeros(len(scores))
    return pd.to_numeric(scores[name], errors="coerce").fillna(0).to_numpy(dtype=float)


def row_costs(scores: pd.DataFrame, book: PriceBook, preset: str | None = None) -> pd.DataFrame:
    """Cost of each row, aligned with `scores.index`.

    Columns: priced_as (preset name, "reported" when only the provider's figure prices it, or
    "unpriced"), currency (None when unpriced), input_cost (the prompt, cache reads and writes at
    their rates), output_cost, table_cost (their sum: the price table's figure), uncached_cost (the
    same with every prompt token at the full input rate: the cost had nothing been cached; for a row
    the provider priced, its figure plus the cache's saving at the table's rates),
    reported_cost (the provider's own figure, NaN where it gave none), cost (the reported figure
    where there is one, else the table's). `preset` prices every row with that preset. Optional
    columns of `scores`: cached_tokens, cache_write_tokens, reported_cost, via ("batch").
    """
    require_columns(scores, ["model", "provider", "prompt_tokens", "completion_tokens"], "row_costs")
    if preset is None:
        presets = {provider: book.preset_for(provider) or UNPRICED for provider in scores["provider"].unique()}
        priced_as = scores["provider"].map(presets).astype(object)
    else:
        book._preset(preset)
        priced_as = pd.Series(preset, index=scores.index, dtype=object)
    prices = book._price_table().reindex(pd.MultiIndex.from_arrays([priced_as, scores["model"].astype(object)]))
    unpriced = (priced_as == UNPRICED).to_numpy()
    rates = {name: prices[name].to_numpy().copy() for name in prices.columns}
    for name in ("input_per_mtok", "cached_input_per_mtok", "cache_write_per_mtok", "output_per_mtok"):
        rates[name][unpriced] = 0.0
    batch = scores["via"].eq("batch").to_numpy() if "via" in scores.columns else np.zeros(len(scores), dtype=bool)
    # A batch answer is priced at its preset's batch factor; a preset with none leaves its cost unknown.
    factor = np.where(batch, rates["batch_factor"], 1.0)
    factor[unpriced] = 1.0
    prompt = _column(scores, "prompt_tokens")
    cached = np.minimum(_column(scores, "cached_tokens"), prompt)
    written = np.minimum(_column(scores, "cache_write_tokens"), prompt - cached)
    fresh = prompt - cached - written
    input_cost = factor * (fresh * rates["input_per_mtok"] + cached * rates["cached_input_per_mtok"]
                           + written * rates["cache_write_per_mtok"]) * _PER_TOKEN
    uncached_input = factor * prompt * rates["input_per_mtok"] * _PER_TOKEN
    output_cost = factor * _column(scores, "completion_tokens") * rates["output_per_mtok"] * _PER_TOKEN
    if "status" in scores.columns:
        # An answer whose server sent no usage was paid for all the same: its cost is unknown, not 0
        # (a failed request has no usage because nothing was billed).
        no_usage = (graded_mask(scores) & scores[["prompt_tokens", "completion_tokens"]].isna().any(axis=1)).to_numpy() & ~unpriced
        input_cost[no_usage] = output_cost[no_usage] = uncached_input[no_usage] = float("nan")
    table_cost = input_cost + output_cost
    currencies = {name: p.currency for name, p in book.presets.items()}
    currency = priced_as.map(currencies).astype(object).where(~unpriced, None).to_numpy().copy()
    reported = (pd.to_numeric(scores["reported_cost"], errors="coerce").to_numpy(dtype=float)
                if "reported_cost" in scores.columns else np.full(len(scores), np.nan))
    # The provider's figure is the bill; it is in USD, so it stands in only where the row is priced in USD or not at all.
    usable = ~np.isnan(reported) & (unpriced | (currency == REPORTED_CURRENCY))
    priced = priced_as.to_numpy().copy()
    priced[usable & unpriced] = REPORTED
    currency[usable & unpriced] = REPORTED_CURRENCY
    table_cost[usable & unpriced] = float("nan")  # no table prices this row: there is no gap to show
    uncached = uncached_input + output_cost
    # the provider's bill, plus what its cache saved at the table's rates: the same bill had nothing been cached
    uncached = np.where(usable & ~unpriced, reported + (uncached - table_cost), uncached)
    uncached[usable & unpriced] = float("nan")
    return pd.DataFrame(
        {
            "priced_as": priced,
            "currency": currency,
            "input_cost": input_cost,
            "output_cost": output_cost,
            "table_cost": table_cost,
            "uncached_cost": uncached,
            "reported_cost": np.where(usable, reported, np.nan),
            "cost": np.where(usable, reported, table_cost),
        },
        index=scores.index,
    )


def cost_summary(scores: pd.DataFrame, book: PriceBook, preset: str | None = None) -> pd.DataFrame:
    """Cost per (model, task) and per unit of result.

    Columns: model, task, priced_as ("+"-joined when several), currency, n_requests, n_items,
    n_correct (graded samples judged right), prompt_tokens, cached_tokens, cached_share (of the
    prompt tokens), completion_tokens, cost, cost_uncached (every prompt token at the full input
    rate), n_reported (rows the provider priced itself), reported_cost and table_cost_of_reported
    (the table's figure for those same rows: their gap is how far the table is from the bill),
    cost_per_request, cost_per_item, cost_per_correct. Cost is NaN when any row's price is
    unknown; cost_per_correct is NaN when nothing was right.
    """
    require_columns(scores, [*GROUP_KEYS, "item_id", "status", "correct"], "cost_summary")
    costs = row_costs(scores, book, preset)
    has_reported = costs["reported_cost"].notna()
    frame = scores[[*GROUP_KEYS, "item_id", "prompt_tokens", "completion_tokens"]].assign(
        cached_tokens=_column(scores, "cached_tokens"),
        _correct=scores["correct"].eq(True) & graded_mask(scores),
        priced_as=costs["priced_as"],
        currency=costs["currency"],
        cost=costs["cost"],
        cost_uncached=costs["uncached_cost"],
        reported=has_reported,
        reported_cost=costs["reported_cost"],
        table_cost_of_reported=costs["table_cost"].where(has_reported),
    )
    groups = frame.groupby(GROUP_KEYS, observed=True, sort=True)
    summary = groups.agg(
        priced_as=("priced_as", lambda names: "+".join(sorted(names.unique()))),
        currency=("currency", _single_currency),
        n_requests=("item_id", "size"),
        n_items=("item_id", "nunique"),
        n_correct=("_correct", "sum"),
        prompt_tokens=("prompt_tokens", "sum"),
        cached_tokens=("cached_tokens", "sum"),
        completion_tokens=("completion_tokens", "sum"),
        cost=("cost", "sum"),
        cost_uncached=("cost_uncached", "sum"),
        n_reported=("reported", "sum"),
        reported_cost=("reported_cost", "sum"),
        table_cost_of_reported=("table_cost_of_reported", "sum"),
    )
    complete = groups["cost"].count() == summary["n_requests"]
    summary["cost"] = summary["cost"].where(complete)
    summary["cost_uncached"] = summary["cost_uncached"].where(groups["cost_uncached"].count() == summary["n_requests"])
    # the table's figure for the reported rows, unknown when the table cannot price one of them
    summary["table_cost_of_reported"] = summary["table_cost_of_reported"].where(groups["table_cost_of_reported"].count() == summary["n_reported"])
    summary["cached_share"] = summary["cached_tokens"] / summary["prompt_tokens"].where(summary["prompt_tokens"] > 0)
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
    n_requests: int, mean_prompt_tokens: float, mean_completion_tokens: float, price: ModelPrice, factor: float = 1.0
) -> float:
    """Expected cost of a run before it is sent (for --dry-run and sample-size advice); `factor`
    is a batch API's discount. No cache reads are assumed: the estimate errs high."""
    return n_requests * request_cost(price, mean_prompt_tokens, mean_completion_tokens, factor=factor)


def _single_currency(currencies: pd.Series) -> str | None:
    """Costs in different currencies cannot be added; say so instead of summing them."""
    found = sorted(currencies.dropna().unique())
    if len(found) > 1:
        raise PriceError(f"these rows are priced in several currencies {found}; price them with one preset")
    return found[0] if found else None
