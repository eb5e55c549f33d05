"""The provider audit's figures: each provider against the reference, per variant and task.

The same items, sampled the same way, sent to several providers: what differs is the provider (its
weights' quantization, its chat template, its thinking switch, its limits), so the paired
per-item difference in accuracy is the provider's effect. Everything else a provider changes
(truncation, refusals, failures, tokens, speed, rate limits, cost) is set beside it, and the probe
findings say what it honours.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from harness import stats
from harness.stats.intervals import t_quantile
from harness.stats.items import GRADED

if TYPE_CHECKING:  # the report imports this module to draw its provider section
    from harness.report.costs import Costs
    from harness.runs import Run, Runs

EQUIVALENCE_PTS = 5.0
"""Differences smaller than this many points count as "indistinguishable" once the interval is inside ±it."""
FLAG_SHARE = 0.05
"""A provider whose answers are truncated, refused or failed this often is named in the flags."""
POWER = 0.8
ALPHA = 0.05

ROW_COLUMNS = [
    "variant", "task", "provider", "reference", "n_items", "k", "accuracy", "accuracy_low", "accuracy_high", "accuracy_reference", "delta", "ci_low", "ci_high",
    "p_value", "p_method", "detectable", "verdict", "truncated_share", "ambiguous_share", "filtered_share", "failed_share",
    "answer_tokens", "reasoning_tokens", "ttft_p50", "latency_p50", "latency_p95", "tokens_per_s",
    "cost_per_correct", "currency", "served_by", "served_model",
]


@dataclass(frozen=True, eq=False)
class Audit:
    """`rows`: one per (variant, task, provider), the reference included (its delta is 0 by
    definition and has no interval). `requests`: per (variant, provider), attempts and their
    429 / 5xx rates. `conformance`: per (provider, variant), the probe's findings. `hosts`: per
    (provider, variant, task, served_by), accuracy by the upstream host that answered."""

    reference: str
    providers: tuple[str, ...]
    rows: pd.DataFrame
    requests: pd.DataFrame
    conformance: pd.DataFrame
    hosts: pd.DataFrame
    equivalence_pts: float

    def others(self) -> pd.DataFrame:
        return self.rows[self.rows["provider"] != self.reference]

    def flags(self) -> list[str]:
        """What a provider does that moves a score or a cost for reasons that are not the model's, in words."""
        found: list[str] = []
        for r in self.conformance.to_dict("records"):
            where = f"{r['provider']} ({r['variant']})"
            if r.get("thinking off") == "reasoning anyway":
                found.append(f"{where} ignores the thinking switch: it reasons with thinking off")
            if r.get("thinking on") == "no reasoning":
                found.append(f"{where} sent no reasoning with thinking on")
            if "NO" in (r.get("usage, streamed"), r.get("usage, whole")):
                found.append(f"{where} sends no usage: its tokens and cost are unknown")
            if str(r.get("model served", "")).endswith(")"):
                found.append(f"{where} says another model answered: {r['model served']}")
            if r.get("sampling accepted") == "NO":
                found.append(f"{where} refused the sampling parameters ({r.get('answers')})")
        for r in self.rows.itertuples():
            shares = (
                (r.truncated_share, "truncated"), (r.ambiguous_share, "ambiguous (no one answer chosen)"),
                (r.filtered_share, "refused by a content filter"), (r.failed_share, "failed"),
            )
            for share, what in shares:
                if share >= FLAG_SHARE:
                    found.append(f"{r.provider} ({r.variant}, {r.task}): {100 * share:.0f}% of answers {what}")
        return found


def provider_of(run: Run) -> str:
    """The provider a run went to, as the user named it (PRESET@HOST included), with its routing
    preferences when they were set by flags (another route is another provider)."""
    provider = run.manifest.provider
    name = provider.name or run.name
    route = provider.route or {}
    if provider.host and route.get("order") == [provider.host] and route.get("allow_fallbacks") is False:
        route = {k: v for k, v in route.items() if k not in ("order", "allow_fallbacks")}  # what @HOST says already
    words = [f"order {','.join(route['order'])}"] if route.get("order") else []
    words += ["no fallbacks"] if route.get("allow_fallbacks") is False else []
    words += [f"quantizations {','.join(route['quantizations'])}"] if route.get("quantizations") else []
    return f"{name} [{'; '.join(words)}]" if words else name


def is_audit(runs: Runs) -> bool:
    """Whether the runs send the same variant to two or more providers: a report then has a
    provider section, with the first run's provider as the reference."""
    by_variant: dict[str, set[str]] = {}
    for run in runs.runs:
        for variant in run.scores["model"].unique():
            by_variant.setdefault(str(variant), set()).add(provider_of(run))
    distinct = {provider_of(run) for run in runs.runs}
    return len(distinct) == len(runs.runs) and any(len(p) > 1 for p in by_variant.values())


def audit(runs: Runs, summary: pd.DataFrame, costs: Costs, equivalence_pts: float = EQUIVALENCE_PTS) -> Audit:
    """Every provider against the first run's provider (the reference); `summary` is the report's
    (stats.summarize of the merged runs, by label)."""
    reference_run = runs.runs[0]
    reference = provider_of(reference_run)
    rows, hosts = [], []
    for variant in dict.fromkeys(v for run in runs.runs for v in run.scores["model"].unique()):
        if variant not in set(reference_run.scores["model"]):
            continue
        base_label = runs.label(reference_run, variant)
        for run in runs.runs:
            if variant not in set(run.scores["model"]):
                continue
            label = runs.label(run, variant)
            for task in runs.tasks:
                mine = runs.scores[(runs.scores["model"] == label) & (runs.scores["task"] == task)]
                base = runs.scores[(runs.scores["model"] == base_label) & (runs.scores["task"] == task)]
                if mine.empty or base.empty:
                    continue
                figures = summary[(summary["model"] == label) & (summary["task"] == task)].iloc[0]
                rows.append(_row(variant, task, provider_of(run), reference, mine, base, figures, _cost(costs, label, task), equivalence_pts))
                hosts += _hosts(variant, task, provider_of(run), mine)
    return Audit(
        reference=reference,
        providers=tuple(provider_of(run) for run in runs.runs),
        rows=pd.DataFrame(rows, columns=ROW_COLUMNS),
        requests=_requests(runs),
        conformance=_conformance(runs),
        hosts=pd.DataFrame(hosts, columns=["provider", "variant", "task", "served_by", "n_samples", "accuracy", "ci_low", "ci_high"]),
        equivalence_pts=equivalence_pts,
    )


def verdict(delta: float, low: float, high: float, sem: float, equivalence_pts: float) -> str:
    """What the interval shows, in words: a difference it excludes zero for, a difference it keeps
    inside ±equivalence, or neither (the audit was too small to tell)."""
    if not np.isfinite(low) or not np.isfinite(high):
        return "too few items to tell"
    if sem == 0:
        return "no difference seen (every item scored alike on both sides)" if delta == 0 else f"{'worse' if delta < 0 else 'better'} on every item"
    if high < 0:
        return f"worse by at least {-100 * high:.1f} points"
    if low > 0:
        return f"better by at least {100 * low:.1f} points"
    t = equivalence_pts / 100
    if -t < low and high < t:
        return f"indistinguishable (within ±{equivalence_pts:g} points)"
    return f"too few items to tell (could be {-100 * low:.1f} points worse)"


def paired_interval(delta: float, sem: float, n_items: int) -> tuple[float, float]:
    """The 95% interval of a paired difference over n items, with Student's t on n - 1 degrees of
    freedom: the normal interval's false alarms are 6%, not 5%, on AIME's 30 items
    (bench/audit_error_rates.py)."""
    if n_items < 2 or not np.isfinite(sem):
        return np.nan, np.nan
    half = t_quantile(1 - ALPHA / 2, n_items - 1) * sem
    return max(-1.0, delta - half), min(1.0, delta + half)


def detectable(sem: float, n_items: int) -> float:
    """The difference (as a fraction) this many items and samples detect with 80% power at a
    two-sided 5% level: (t_0.975 + t_0.8) standard errors."""
    if n_items < 2:
        return np.nan
    return (t_quantile(1 - ALPHA / 2, n_items - 1) + t_quantile(POWER, n_items - 1)) * sem


def _row(
    variant: str, task: str, provider: str, reference: str, mine: pd.DataFrame, base: pd.DataFrame, summary: pd.Series,
    cost: dict[str, Any], equivalence_pts: float,
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "variant": variant, "task": task, "provider": provider, "reference": reference,
        "n_items": int(summary["n_items"]), "k": int(summary["k"]), "accuracy": float(summary["accuracy"]),
        "accuracy_low": float(summary["ci_low"]), "accuracy_high": float(summary["ci_high"]),
        **{name: float(summary[name]) for name in ("truncated_share", "ambiguous_share", "filtered_share", "failed_share")},
        **_speed(mine),
        **cost,
        "served_by": _distinct(mine, "served_by"),
        "served_model": _distinct(mine, "served_model"),
    }
    if provider == reference:
        row.update(accuracy_reference=row["accuracy"], delta=0.0, ci_low=np.nan, ci_high=np.nan, p_value=np.nan, p_method="",
                   detectable=np.nan, verdict="reference")
        return row
    try:
        paired = stats.compare(base, mine, n_resamples=200, n_permutations=2000)
    except ValueError as error:  # no item answered on both sides
        row.update(accuracy_reference=np.nan, delta=np.nan, ci_low=np.nan, ci_high=np.nan, p_value=np.nan, p_method="",
                   detectable=np.nan, verdict=f"not compared ({error})")
        return row
    low, high = paired_interval(paired.delta, paired.sem, paired.n_items)
    row.update(
        n_items=paired.n_items, accuracy=paired.accuracy_b, accuracy_reference=paired.accuracy_a, delta=paired.delta,
        ci_low=low, ci_high=high, p_value=paired.p_value, p_method=paired.p_method,
        detectable=detectable(paired.sem, paired.n_items), verdict=verdict(paired.delta, low, high, paired.sem, equivalence_pts),
    )
    return row


def _speed(rows: pd.DataFrame) -> dict[str, float]:
    """Tokens per answer and speed over the answers (failed and filtered requests say nothing of them).
    Output speed is per answer, after its first token where the stream told when that came."""
    answered = rows[rows["status"].isin(GRADED)]
    latency = pd.to_numeric(answered["latency_s"], errors="coerce")
    ttft = pd.to_numeric(answered["ttft_s"], errors="coerce")
    completion = pd.to_numeric(answered["completion_tokens"], errors="coerce")
    reasoning = pd.to_numeric(answered["reasoning_tokens"], errors="coerce")
    generating = (latency - ttft.fillna(0.0)).where(lambda s: s > 0)
    return {
        # completion tokens count the reasoning: the answer's own are known only where the reasoning's are
        "answer_tokens": _mean_if_known(completion - reasoning),
        "reasoning_tokens": _mean_if_known(reasoning),
        "ttft_p50": float(ttft.median()) if ttft.notna().any() else np.nan,
        "latency_p50": float(latency.quantile(0.5)) if latency.notna().any() else np.nan,
        "latency_p95": float(latency.quantile(0.95)) if latency.notna().any() else np.nan,
        "tokens_per_s": float((completion / generating).median()) if (completion.notna() & generating.notna()).any() else np.nan,
    }


def _mean_if_known(values: pd.Series) -> float:
    """A mean only when every answer reported the count: a server that drops usage reads unknown, not low."""
    return float(values.mean()) if len(values) and values.notna().all() else np.nan


def _cost(costs: Costs, label: str, task: str) -> dict[str, Any]:
    row = costs.by_task[(costs.by_task["model"] == label) & (costs.by_task["task"] == task)]
    if row.empty:
        return {"cost_per_correct": np.nan, "currency": None}
    return {"cost_per_correct": float(pd.to_numeric(row["cost_per_correct"]).iloc[0]), "currency": row["currency"].iloc[0]}


def _distinct(rows: pd.DataFrame, column: str) -> str:
    if column not in rows.columns:
        return ""
    return ", ".join(sorted(str(v) for v in rows[column].dropna().unique()))


def _hosts(variant: str, task: str, provider: str, rows: pd.DataFrame) -> list[dict[str, Any]]:
    """Accuracy by the host that served each answer, where the provider says (an aggregator does)."""
    if "served_by" not in rows.columns or rows["served_by"].isna().all():
        return []
    out = []
    for host, group in rows[rows["status"].isin(GRADED)].groupby("served_by", sort=True):
        correct = group["correct"].astype(bool).to_numpy()
        estimate = stats.mean_interval(correct.astype(float), bounds=(0.0, 1.0))
        out.append({"provider": provider, "variant": variant, "task": task, "served_by": host, "n_samples": len(group),
                    "accuracy": float(correct.mean()), "ci_low": float(estimate.low), "ci_high": float(estimate.high)})
    return out


def _requests(runs: Runs) -> pd.DataFrame:
    """Per (variant, provider): the requests this audit sent (retries included) and the shares
    refused with 429 or failed with 5xx; none when every answer came from the store."""
    rows = []
    for run in runs.runs:
        for variant, counts in run.manifest.attempts.items():
            sent = int(counts.get("sent", 0))
            rows.append({
                "variant": variant, "provider": provider_of(run), "attempts": sent,
                "rate_429": counts.get("http_429", 0) / sent if sent else np.nan,
                "rate_5xx": counts.get("http_5xx", 0) / sent if sent else np.nan,
                "rate_other": counts.get("other", 0) / sent if sent else np.nan,
            })
    return pd.DataFrame(rows, columns=["variant", "provider", "attempts", "rate_429", "rate_5xx", "rate_other"])


_CONFORMANCE_LEFT_OUT = ("listed in /models", "first token s")  # the id check and speed are in the other tables


def _conformance(runs: Runs) -> pd.DataFrame:
    """The probe's findings per provider and variant (a run made with --probe; the audit always probes)."""
    rows = []
    for run in runs.runs:
        for variant, found in (run.manifest.probe or {}).items():
            findings = {k: v for k, v in found.get("findings", {}).items() if k not in _CONFORMANCE_LEFT_OUT}
            rows.append({"provider": provider_of(run), "variant": variant, **findings})
    return pd.DataFrame(rows)
