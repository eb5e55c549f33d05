"""Prices file validation and costs of frames, checked by hand."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from harness.cost import (
    PriceError,
    cost_summary,
    estimate_run_cost,
    load_prices,
    row_costs,
    run_cost,
)

VALID = """
presets:
  acme:
    currency: USD
    date: 2025-07-28
    source: test
    providers: [acme, acme-eu]
    models:
      m: {input_per_mtok: 1.0, output_per_mtok: 4.0}
      later: {input_per_mtok: null, output_per_mtok: null, unverified: true, note: ask acme}
"""


def frame(**columns: object) -> pd.DataFrame:
    base = {
        "model": ["glm-4.5", "glm-4.5", "glm-4.5"],
        "task": "aime24",
        "item_id": ["a", "a", "b"],
        "sample": [0, 1, 0],
        "status": ["ok", "ok", "failed"],
        "correct": [True, False, False],
        "provider": "cometapi",
        "prompt_tokens": [1000, 1000, float("nan")],
        "completion_tokens": [2000, 3000, float("nan")],
        "reasoning_tokens": [1500, 2500, float("nan")],
    }
    return pd.DataFrame({**base, **columns})


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "prices.yaml"
    path.write_text(text)
    return path


def test_shipped_prices_load_and_flag_the_doubtful_rows() -> None:
    book = load_prices()
    comet = book.presets["cometapi"]
    assert comet.models["glm-4.5"].input_per_mtok == 0.48 and comet.currency == "USD"
    for model in ("glm-4.5-airx", "glm-4.5-flash"):
        assert comet.models[model].unverified and "as published" in comet.models[model].note.lower()
    zai = book.presets["zai"]
    assert set(zai.models) == set(comet.models)
    assert "docs.z.ai/guides/overview/pricing" in zai.source
    assert zai.models["glm-4.5"].rates() == (0.60, 0.11, 0.0, 2.20), "input, cached input, cache write, output"
    assert zai.batch is not None and zai.batch.factor == 0.5 and zai.batch.unverified
    for preset in book.presets.values():  # every row says when and where it was read
        for model, row in preset.models.items():
            assert row.date is not None and row.source, f"{model} has no date or source of its own"


def test_row_cost_bills_reasoning_once_as_output() -> None:
    costs = row_costs(frame(), load_prices())
    # 1000 in at 0.48 + 2000 out (reasoning included) at 1.92, per million
    assert costs["cost"].iloc[0] == pytest.approx((1000 * 0.48 + 2000 * 1.92) / 1e6)
    assert costs["cost"].iloc[2] == 0.0                       # failed, no usage reported
    assert set(costs["priced_as"]) == {"cometapi"} and set(costs["currency"]) == {"USD"}


def test_simulated_rows_cost_nothing_unless_priced_as_a_preset() -> None:
    book = load_prices()
    simulated = frame(provider="simulated")
    costs = row_costs(simulated, book)
    assert (costs["cost"] == 0).all() and set(costs["priced_as"]) == {"unpriced"}
    assert costs["currency"].isna().all()
    priced = run_cost(simulated, book, preset="cometapi")
    assert priced.priced_as == ("cometapi",) and priced.currency == "USD"
    assert priced.cost == pytest.approx((2000 * 0.48 + 5000 * 1.92) / 1e6)
    with pytest.raises(PriceError, match="no preset 'nope'"):
        run_cost(simulated, book, preset="nope")


def test_unknown_prices_give_nan_never_zero(tmp_path: Path) -> None:
    book = load_prices(write(tmp_path, VALID))
    with pytest.raises(PriceError, match="later.*fill in"):
        book.price_for("acme", "later")
    rows = frame(provider="acme", model="later")
    total = run_cost(rows, book)
    assert math.isnan(total.cost) and total.unknown == ("acme/later",)
    assert math.isnan(cost_summary(rows, book)["cost"].iloc[0])


def test_cost_summary_per_item_and_per_correct_answer() -> None:
    summary = cost_summary(frame(), load_prices()).iloc[0]
    total = (2000 * 0.48 + 5000 * 1.92) / 1e6
    assert summary[["n_requests", "n_items", "n_correct"]].tolist() == [3, 2, 1]
    assert summary["cost"] == pytest.approx(total)
    assert summary["cost_per_item"] == pytest.approx(total / 2)
    assert summary["cost_per_correct"] == pytest.approx(total)
    assert summary["priced_as"] == "cometapi" and summary["currency"] == "USD"


def test_estimate_run_cost_by_hand() -> None:
    price = load_prices().price_for("cometapi", "glm-4.5")
    assert estimate_run_cost(100, 500, 4000, price) == pytest.approx(100 * (500 * 0.48 + 4000 * 1.92) / 1e6)


def test_presets_apply_to_the_providers_they_list(tmp_path: Path) -> None:
    book = load_prices(write(tmp_path, VALID))
    assert book.preset_for("acme-eu") == "acme" and book.preset_for("other") is None
    assert book.price_for("acme", "m").output_per_mtok == 4.0


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (("input_per_mtok: 1.0", "inptu_per_mtok: 1.0"),
         r"presets\.acme\.models\.m\.inptu_per_mtok: unknown field 'inptu_per_mtok'; "
         r"allowed: input_per_mtok, output_per_mtok, cached_input_per_mtok"),
        (("source: test", "source: test\n    sauce: x"),
         r"presets\.acme\.sauce: unknown field 'sauce'; allowed: currency, date"),
        (("currency: USD", "currency: usd"), r"presets\.acme\.currency: .*three-letter ISO 4217 code.*'usd'"),
        (("output_per_mtok: 4.0", "output_per_mtok: -4"),
         r"presets\.acme\.models\.m\.output_per_mtok: .*greater than or equal to 0"),
        ((", unverified: true", ""), r"presets\.acme\.models\.later: .*unverified: true"),
        (("input_per_mtok: 1.0", "input_per_mtok: null"), r"models\.m: .*both"),
        (("    source: test\n", ""), r"presets\.acme\.source: missing"),
        (("date: 2025-07-28", "date: someday"), r"presets\.acme\.date: .*date"),
    ],
)
def test_invalid_price_files_name_the_file_and_field(tmp_path: Path, edit: tuple[str, str], expected: str) -> None:
    path = write(tmp_path, VALID.replace(*edit))
    with pytest.raises(PriceError, match=expected) as raised:
        load_prices(path)
    assert str(path) in str(raised.value)


def test_a_provider_belongs_to_one_preset(tmp_path: Path) -> None:
    text = VALID + """
  other:
    currency: USD
    date: 2025-01-01
    source: x
    providers: [acme-eu]
    models: {m: {input_per_mtok: 1, output_per_mtok: 1}}
"""
    with pytest.raises(PriceError, match="provider 'acme-eu' is listed by presets 'acme' and 'other'"):
        load_prices(write(tmp_path, text))


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(PriceError, match="no such file"):
        load_prices(tmp_path / "absent.yaml")
    with pytest.raises(PriceError, match="malformed YAML"):
        load_prices(write(tmp_path, "presets: [unclosed"))


def test_mixed_currencies_are_not_added(tmp_path: Path) -> None:
    text = VALID + """
  yuan:
    currency: CNY
    date: 2025-07-28
    source: test
    models:
      m: {input_per_mtok: 1.0, output_per_mtok: 1.0}
"""
    book = load_prices(write(tmp_path, text))
    rows = frame(model="m", provider=["acme", "yuan", "acme"])
    with pytest.raises(PriceError, match="several currencies"):
        run_cost(rows, book)


CACHED = """
presets:
  acme:
    currency: USD
    date: 2026-11-01
    source: test
    batch: {factor: 0.5, date: 2026-11-01, source: test}
    models:
      m: {input_per_mtok: 1.0, cached_input_per_mtok: 0.1, output_per_mtok: 4.0}
      old: {input_per_mtok: 1.0, output_per_mtok: 4.0, date: 2025-01-01, source: an old page}
  nobatch:
    currency: USD
    date: 2026-11-01
    source: test
    models:
      m: {input_per_mtok: 1.0, output_per_mtok: 4.0}
"""


def test_cached_prompt_tokens_are_priced_at_the_cached_rate(tmp_path: Path) -> None:
    book = load_prices(write(tmp_path, CACHED))
    rows = frame(provider="acme", model="m", cached_tokens=[800, 0, float("nan")])
    costs = row_costs(rows, book)
    # 200 fresh at 1.0 + 800 cached at 0.1 + 2000 out at 4.0; without the cache all 1000 at 1.0
    assert costs["cost"].iloc[0] == pytest.approx((200 * 1.0 + 800 * 0.1 + 2000 * 4.0) / 1e6)
    assert costs["uncached_cost"].iloc[0] == pytest.approx((1000 * 1.0 + 2000 * 4.0) / 1e6)
    assert costs["cost"].iloc[1] == costs["uncached_cost"].iloc[1], "no cache read, no discount"
    summary = cost_summary(rows, book).iloc[0]
    assert summary["cached_tokens"] == 800 and summary["cached_share"] == pytest.approx(800 / 2000)
    assert summary["cost_uncached"] - summary["cost"] == pytest.approx(800 * (1.0 - 0.1) / 1e6)
    # a row with no cached price (the old one) prices cache reads at the full input rate: never too low
    old = row_costs(frame(provider="acme", model="old", cached_tokens=[800, 0, 0]), book)
    assert old["cost"].iloc[0] == old["uncached_cost"].iloc[0]


def test_a_reported_cost_is_the_cost_and_the_table_is_kept_beside_it(tmp_path: Path) -> None:
    book = load_prices(write(tmp_path, CACHED))
    rows = frame(provider="acme", model="m", reported_cost=[0.005, float("nan"), float("nan")])
    costs = row_costs(rows, book)
    table = (1000 * 1.0 + 2000 * 4.0) / 1e6
    assert costs["cost"].iloc[0] == 0.005 and costs["table_cost"].iloc[0] == pytest.approx(table)
    assert costs["cost"].iloc[1] == pytest.approx((1000 + 3000 * 4.0) / 1e6), "no report: the table's figure"
    summary = cost_summary(rows, book).iloc[0]
    assert summary["n_reported"] == 1 and summary["reported_cost"] == 0.005
    assert summary["table_cost_of_reported"] == pytest.approx(table)
    # a provider with no preset (OpenRouter) is priced by what it reported, in USD
    unpriced = row_costs(frame(provider="openrouter", reported_cost=[0.01, 0.02, float("nan")]), book)
    assert list(unpriced["priced_as"][:2]) == ["reported", "reported"] and unpriced["currency"].iloc[0] == "USD"
    assert run_cost(frame(provider="openrouter", reported_cost=[0.01, 0.02, float("nan")]), book).cost == pytest.approx(0.03)


def test_batch_answers_cost_the_batch_factor_and_unknown_where_no_batch_price(tmp_path: Path) -> None:
    book = load_prices(write(tmp_path, CACHED))
    interactive = row_costs(frame(provider="acme", model="m"), book)["cost"]
    batch = row_costs(frame(provider="acme", model="m", via=["batch", "batch", None]), book)["cost"]
    assert batch.iloc[0] == pytest.approx(interactive.iloc[0] * 0.5) and batch.iloc[1] == pytest.approx(interactive.iloc[1] * 0.5)
    none = row_costs(frame(provider="acme", model="m", via="batch"), book, preset="nobatch")["cost"]
    assert math.isnan(none.iloc[0]), "a preset with no batch price cannot price a batch answer"
    assert estimate_run_cost(10, 100, 1000, book.price_for("acme", "m"), factor=0.5) == pytest.approx(10 * (100 + 4000) / 1e6 * 0.5)


def test_rows_older_than_90_days_are_named(tmp_path: Path) -> None:
    import datetime

    book = load_prices(write(tmp_path, CACHED))
    today = datetime.date(2026, 12, 4)
    assert book.stale_rows([("acme", "m"), ("acme", "old")], today) == ["acme (read 2025-01-01, 702 days ago): old"]
    assert book.stale_rows([("acme", "m")], datetime.date(2027, 3, 1)) == ["acme (read 2026-11-01, 120 days ago): m"], "the preset's date when the row has none"


def test_a_reported_cost_had_nothing_been_cached_adds_the_tables_saving(tmp_path: Path) -> None:
    book = load_prices(write(tmp_path, CACHED))
    rows = frame(provider="acme", model="m", reported_cost=[0.005, float("nan"), float("nan")], cached_tokens=[800, 0, 0])
    costs = row_costs(rows, book)
    saving = 800 * (1.0 - 0.1) / 1e6  # what the cache saved at the table's rates
    assert costs["cost"].iloc[0] == 0.005
    assert costs["uncached_cost"].iloc[0] == pytest.approx(0.005 + saving)
