"""`glm-eval audit`: the same plan through each provider, one run folder per provider, one store.

Each provider's run is an ordinary run (its own folder, manifest and samples, probed first), so it
resumes, replays and reports like any other; the request key names the provider, so what one
provider answered is never taken for another's, and a rerun of the audit sends only what is missing.
Every provider's plan, key and model ids are checked before the first request is sent to any.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from rich.console import Console

from harness import evaluate
from harness.errors import UserError
from harness.paths import RESULTS
from harness.runspec import RunSpec
from harness.runview import RunView

AUDIT_FILE = "audit.json"


@dataclass(frozen=True)
class AuditRun:
    folder: Path
    runs: dict[str, Path]  # provider -> its run folder, the reference first
    exit_code: int  # 0 when every provider's run is complete, else 1 (as `glm-eval run`)


def folder_for(out: Path | None) -> Path:
    return out if out is not None else RESULTS / f"audit-{datetime.now():%Y%m%d-%H%M%S}"


def run_audit(spec: RunSpec, providers: list[str], out: Path, argv: list[str], console: Console) -> AuditRun:
    """Run `spec` on every provider, the reference (the first) first."""
    if len(providers) < 2:
        raise UserError("--providers: name at least two, the reference first (e.g. zai,openrouter)")
    if len(set(providers)) != len(providers):
        raise UserError(f"--providers names one provider twice: {','.join(providers)}")
    specs = {name: spec.model_copy(update={"provider": name, "out": out / _folder_name(name), "probe": True}) for name in providers}
    for name, one in specs.items():
        try:
            evaluate.prepare(one)  # an unknown provider, a variant it does not offer, a missing key: before anything is sent
        except UserError as error:
            raise UserError(f"provider {name}: {error}") from None
    out.mkdir(parents=True, exist_ok=True)
    (out / AUDIT_FILE).write_text(json.dumps({
        "reference": providers[0], "providers": providers,
        "runs": {name: str(one.out) for name, one in specs.items()}, "command": ["glm-eval", *argv],
    }, indent=2) + "\n", encoding="utf-8")
    codes = []
    for name, one in specs.items():
        console.rule(f"provider {name}" + (" (reference)" if name == providers[0] else ""))
        codes.append(evaluate.execute(one, argv, RunView(console)).exit_code)
    return AuditRun(out, {name: Path(one.out) for name, one in specs.items() if one.out is not None}, max(codes))


def read_audit(folder: Path) -> list[Path]:
    """An audit folder's runs, the reference first."""
    path = folder / AUDIT_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{folder} is not an audit folder ({AUDIT_FILE} is missing; `glm-eval audit --out DIR` writes one)") from None
    except (OSError, ValueError) as error:
        raise UserError(f"{path}: cannot read it ({error})") from None
    return [Path(data["runs"][name]) for name in data["providers"]]


def _folder_name(provider: str) -> str:
    """A run folder named for its provider (PRESET@HOST included), safe on every file system."""
    return re.sub(r"[^A-Za-z0-9@._-]+", "_", provider)
