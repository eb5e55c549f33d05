"""The simulated endpoint as a separate process for the length of a run.

`--provider simulated` starts `glm-eval sim` on a free port of 127.0.0.1, so a run talks to it
through real HTTP exactly as it would to a provider, and stops it when the run ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import IO, TYPE_CHECKING

from harness.errors import UserError
from harness.tasks import Task, load_task

if TYPE_CHECKING:  # the simulator itself is imported only once a simulated run starts one
    from harness.simulator.key import KeyItem

KINDS = {"math": "math", "integer": "integer", "mcq": "mcq"}  # other graders are answered like math


def answer_key_for(names: Iterable[str], data_dir: Path | None) -> list[KeyItem]:
    """Every item of the named tasks (not a run's subset: a simulator started on its own answers
    whatever it is asked)."""
    return answer_key(load_task(name, data_dir, allow_builtin_sample=True) for name in names)


def answer_key(tasks: Iterable[Task]) -> list[KeyItem]:
    """What the simulator must know to answer these tasks (for multiple choice, the correct text:
    the harness shuffles the letters). A task posed under another protocol (`gpqa_diamond:zai-kit`)
    is the same items to the model, answered as well as under the task's own."""
    from harness.simulator.key import KeyItem

    return [
        KeyItem(task.id.partition(":")[0], item.question, item.answer, KINDS.get(task.spec.grader, "math"))  # type: ignore[arg-type]
        for task in tasks
        for item in task.items
    ]
DEFAULT_SIM_KEY = "sim-key"


@contextlib.contextmanager
def simulator(
    tasks: list[str] | list[KeyItem],
    data_dir: Path | None,
    time_scale: float,
    api_key: str,
    log: Path | None = None,
    startup_timeout_s: float = 120.0,
    profiles: Path | None = None,
    options: Iterable[str] = (),
    provider_profile: str | None = None,
) -> Iterator[str]:
    """Yield the base URL (`http://127.0.0.1:PORT/v1`) of a simulator running in a child process.

    `tasks` names the tasks whose answers it knows (it loads them itself, as `glm-eval sim`
    does), or is the answer key already loaded, which is handed over in a temporary file so the
    data is not read twice. `provider_profile` plays one host (`simulated@PROFILE`); `options` are more
    `glm-eval sim` flags (--stream-usage when_asked, say)."""
    from harness.simulator.key import KeyItem

    cmd = [sys.executable, "-m", "harness", "sim", "--port", "0", "--time-scale", str(time_scale)]
    key_file = None
    if tasks and isinstance(tasks[0], KeyItem):
        key_file = tempfile.NamedTemporaryFile("w", suffix=".jsonl", encoding="utf-8")
        key_file.writelines(json.dumps(asdict(item), ensure_ascii=False) + "\n" for item in tasks)
        key_file.flush()
        cmd += ["--answer-key", key_file.name]
    else:
        cmd += ["--tasks", ",".join(tasks)]  # type: ignore[arg-type]
    if data_dir is not None:
        cmd += ["--data-dir", str(data_dir)]
    if log is not None:
        cmd += ["--log", str(log)]
    if profiles is not None:
        cmd += ["--profiles", str(profiles)]
    if provider_profile is not None:
        cmd += ["--provider-profile", provider_profile]
    cmd += list(options)
    errors = tempfile.TemporaryFile(mode="w+")
    env = {**os.environ, "GLM_EVAL_SIM_KEY": api_key}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errors, text=True, env=env)
    try:
        yield _wait_ready(proc, errors, startup_timeout_s)
    finally:
        errors.close()
        if key_file is not None:
            key_file.close()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_ready(proc: subprocess.Popen[str], errors: IO[str], timeout_s: float) -> str:
    """Read the child's stdout until it says where it listens; keep draining it afterwards so
    that the child never blocks on a full pipe."""
    from harness.simulator.process import READY_PREFIX as READY

    found: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if not found and line.startswith(READY):
                found.append(line[len(READY) :].strip())
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    ready.wait(timeout_s)
    if not found:
        proc.kill()
        proc.wait()
        errors.seek(0)
        last = errors.read().strip().splitlines()[-1:] or ["no output"]
        raise UserError(f"the simulated endpoint did not start ({last[0]})")
    return found[0].rstrip("/") + "/v1"
