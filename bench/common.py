"""What the harness benchmarks share: the simulator in its own process, a measured child process
(CPU of its whole process tree, peak RSS), the plain clients, the machine line and the results file.

Every measured command runs under ``bench/measure.py``, a small launcher that makes itself the
child subreaper: every descendant (grading workers started through the forkserver included) is
reaped by it, so ``getrusage(RUSAGE_CHILDREN)`` there is the CPU of the whole tree, and it polls
/proc for the tree's resident memory.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import platform
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT))

from harness.simulator import FixedLatency, SimOptions, serve  # noqa: E402
from harness.simulator.faults import Faults  # noqa: E402

RESULTS = BENCH / "results.jsonl"
KEY = "sim-key"
PYTHON = sys.executable
GLM_EVAL_ITEMS = 500  # MATH-500: requests = items x samples
DATA_DIR = ROOT.parent / "shared" / "data"


# -- the simulator ---------------------------------------------------------------------------


def _serve(options: SimOptions, ports: Any) -> None:
    serve(options, [], ready=ports.put)


class Server:
    """The simulator (fixed-latency benchmark mode) in a child process of its own."""

    def __init__(self, fixed: FixedLatency, chunk_tokens: int = SimOptions.chunk_tokens,
                 faults: Faults | None = None, request_log: Path | None = None) -> None:
        options = SimOptions(api_key=KEY, fixed_latency=fixed, chunk_tokens=chunk_tokens,
                             faults=faults or Faults(), request_log=request_log)
        context = multiprocessing.get_context("spawn")
        ports = context.Queue()
        self.process = context.Process(target=_serve, args=(options, ports), daemon=True)
        self.process.start()
        self.url = f"http://127.0.0.1:{ports.get(timeout=60)}"

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/_sim/stats", timeout=30) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        self.process.terminate()
        self.process.join(10)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- measured child processes ----------------------------------------------------------------


def measure(cmd: list[str], *, tty: bool = False, env: dict[str, str] | None = None,
            timeout_s: float = 3600.0, profile: Path | None = None, profile_rate: int = 97) -> dict[str, Any]:
    """Run `cmd` under bench/measure.py; returns wall, tree CPU, peak RSS (tree and largest process),
    the per-process CPU breakdown and the return code. `profile` samples the main process with
    py-spy (raw collapsed stacks written there)."""
    with tempfile.TemporaryDirectory(prefix="glm-bench-") as tmp:
        out = Path(tmp) / "measure.json"
        launcher = [PYTHON, str(BENCH / "measure.py"), "--out", str(out), "--timeout", str(timeout_s)]
        if tty:
            launcher.append("--tty")
        if profile is not None:
            launcher += ["--profile", str(profile), "--profile-rate", str(profile_rate)]
        proc = subprocess.run([*launcher, "--", *cmd], env={**os.environ, **(env or {})},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout_s + 120)
        if not out.exists():
            raise RuntimeError(f"measure.py failed ({proc.returncode}): {proc.stdout[-3000:]}")
        result = json.loads(out.read_text())
    result["launcher_output_tail"] = proc.stdout[-2000:]
    return result


def harness_cmd(url: str, n: int, concurrency: int, stream: bool, out: Path, *, model: str = "glm-4.5",
                extra: list[str] | None = None, phases: Path | None = None, lag: bool = False,
                tracemalloc_top: int = 0) -> tuple[list[str], dict[str, str]]:
    """`glm-eval run` for N MATH-500 requests (items x samples) through bench/harness_probe.py,
    which only records when the send and grading phases start and end."""
    if n <= GLM_EVAL_ITEMS:
        sizing = ["--limit", str(n), "--samples", "1"]
    else:
        if n % GLM_EVAL_ITEMS:
            raise SystemExit(f"N={n}: above 500 the harness's N is 500 x samples; use a multiple of 500")
        sizing = ["--samples", str(n // GLM_EVAL_ITEMS)]
    cmd = [PYTHON, str(BENCH / "harness_probe.py"), "run", "--provider", "simulated", "--base-url", f"{url}/v1",
           "--models", model, "--tasks", "math500", *sizing, "--concurrency", str(concurrency), "--rpm", "0",
           "--data-dir", str(DATA_DIR), "--out", str(out / "run"), "--store", str(out / "store.sqlite"),
           *([] if stream else ["--no-stream"]), *(extra or [])]
    env = {"GLM_EVAL_SIM_KEY": KEY}
    if phases is not None:
        env["GLM_BENCH_PHASES"] = str(phases)
    if lag:
        env["GLM_BENCH_LAG"] = "1"
    if tracemalloc_top:
        env["GLM_BENCH_TRACEMALLOC"] = str(tracemalloc_top)
    return cmd, env


def plain_cmd(lib: str, url: str, n: int, concurrency: int, stream: bool, report: Path, rpm: int = 0) -> list[str]:
    return [PYTHON, str(BENCH / "plain_client.py"), "--lib", lib, "--url", url, "--n", str(n),
            "--concurrency", str(concurrency), "--report", str(report), "--rpm", str(rpm),
            *(["--stream"] if stream else [])]


def ideal_s(n: int, concurrency: int, latency_ms: float, tokens: int, rate: float | None) -> float:
    per_request = latency_ms / 1000 + (tokens / rate if rate else 0.0)
    return math.ceil(n / concurrency) * per_request


# -- reporting -------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "loadavg_before": os.getloadavg()[0]}


def machine_line(info: dict[str, Any]) -> str:
    return (f"{info['cpus']} CPUs, Python {info['python']}, load average {info['loadavg_before']:.1f} before "
            f"the run (other work on the machine skews absolute figures; compare with the plain client's)")


def append_result(record: dict[str, Any], path: Path = RESULTS) -> None:
    record = {"time": datetime.now(UTC).isoformat(timespec="seconds"), **record}
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(record) + "\n")


def wait_quiet(seconds: float = 1.0) -> None:
    """A pause between measured runs, so that one run's closing connections do not land in the next."""
    time.sleep(seconds)
