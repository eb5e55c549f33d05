"""Which settings of a run must match its baseline, and which are only reported.

Refused (exit 2), because the two scores would measure different things:
  - the items: each task's dataset fingerprint (ids, questions, gold answers and the --limit
    subset), so a paired comparison pairs every item;
  - the grader and the judge model, if one read the answers: what counts as a right answer;
  - sampling: temperature, top_p, max_tokens, thinking, the protocol the scores are measured under
    (streaming only changes delivery and is ignored);
  - simulated against real: a test double against a measurement;
  - a model x task of the baseline absent from the run.
Reported beside the verdicts but compared, because they are what a check is usually run to test:
  - the prompt (its hash), the provider, and the model id the provider was sent (a new version);
  - samples per item: a per-item accuracy is unbiased for any number of samples, and the test's
    standard error comes from the paired differences themselves, so k changes power, not validity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.formats import task_name
from harness.gate.baseline import Baseline, sampling_of
from harness.runs import Run


@dataclass(frozen=True)
class Differences:
    refusals: tuple[str, ...]
    changes: tuple[str, ...]


def differences(baseline: Baseline, run: Run, round_of: tuple[str, str] | None = None) -> Differences:
    """`round_of` (model, task): the run is one round of a sequential check of that cell alone, on a
    --limit subset of the baseline's items; its items are then checked by id, not by fingerprint."""
    manifest = run.manifest
    refusals: list[str] = []
    changes: list[str] = []
    if baseline.simulated != run.simulated:
        which = "the baseline" if baseline.simulated else "the run"
        refusals.append(f"only {which} is SIMULATED: a test double cannot be compared with a measurement")
    sampling = sampling_of(manifest)
    if sampling != baseline.sampling:
        changed = ", ".join(f"{k} {baseline.sampling.get(k)} -> {v}" for k, v in sampling.items() if baseline.sampling.get(k) != v)
        refusals.append(f"sampling differs ({changed})")
    judge = manifest.judge
    if judge != baseline.judge:
        refusals.append(f"the judge differs ({_judge_name(baseline.judge)} in the baseline, {_judge_name(judge)} in the run)")
    present = {(str(m), str(t)) for m, t in run.scores[["model", "task"]].drop_duplicates().itertuples(index=False)}
    wanted = [c for c in baseline.cells if round_of is None or (c.model, c.task) == round_of]
    missing = [f"{c.model} x {c.task}" for c in wanted if (c.model, c.task) not in present]
    if missing:
        refusals.append(f"the run has no samples of {', '.join(missing)}, which the baseline has")
    for task, record in baseline.tasks.items():
        current = manifest.tasks.get(task)
        if current is None:
            continue  # already refused as missing cells
        name = task_name(task)
        if round_of is None and current.fingerprint != record.fingerprint:
            refusals.append(
                f"{name}: the items differ (dataset fingerprint {record.fingerprint[:12]} in the baseline, "
                f"{str(current.fingerprint)[:12]} in the run: other data, or another --limit/--items)"
            )
        if current.grader != record.grader:
            refusals.append(f"{name}: the grader differs ({record.grader} in the baseline, {current.grader} in the run)")
        if current.prompt_sha256 != record.prompt_sha256:
            changes.append(f"{name}: the prompt changed (the delta includes the prompt change)")
        k = manifest.samples_per_item.get(task)
        if k is not None and k != record.samples_per_item:
            changes.append(f"{name}: {record.samples_per_item} samples per item in the baseline, {k} in the run")
    provider = manifest.provider.name
    if provider != baseline.provider:
        changes.append(f"provider changed: {baseline.provider} -> {provider}")
    model_ids = manifest.models
    for model, model_id in {c.model: c.model_id for c in baseline.cells}.items():
        now = model_ids.get(model)
        if now is not None and now != model_id:
            changes.append(f"{model}: model id changed: {model_id} -> {now}")
    return Differences(tuple(refusals), tuple(changes))


def _judge_name(judge: dict[str, Any] | None) -> str:
    if judge is None:
        return "none"
    return f"{judge.get('model_id', judge.get('model'))}{' with fallback' if judge.get('fallback') else ''}"
