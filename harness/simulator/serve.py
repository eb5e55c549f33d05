"""Running the simulator as a process (`glm-eval sim`): `serve` for any answer key, `task_key`
to build the key from the harness's task specs."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Callable, Sequence

from .key import Kind, KeyItem
from .options import SimOptions
from .server import start_server

READY_PREFIX = "glm-eval sim listening on "
"""The line a parent process waits for (harness/simproc.py); the base URL follows it."""
API_KEY_ENV = "GLM_EVAL_SIM_KEY"
_KINDS: dict[str, Kind] = {"math": "math", "integer": "integer", "mcq": "mcq"}


def serve(options: SimOptions, answer_key: Sequence[KeyItem], host: str = "127.0.0.1", port: int = 0,
          ready: Callable[[int], None] | None = None) -> None:
    """Run until SIGINT or SIGTERM. Once listening, calls ready(port), or prints the READY line."""

    async def main() -> None:
        runner, bound = await start_server(options, answer_key, host, port)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError, ValueError):
                pass  # not the main thread, or no signals here: the caller stops us otherwise
        if ready is not None:
            ready(bound)
        else:
            print(f"{READY_PREFIX}http://{host}:{bound}", flush=True)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    asyncio.run(main())


def task_key(tasks: Sequence[str], data_dir: Path | None) -> list[KeyItem]:
    """Every item of the named tasks (not a run's subset: the simulator answers whatever it is
    asked). For multiple choice the gold is the correct choice's text, since the harness shuffles."""
    from harness.tasks import load_task  # here: it pulls in `datasets`, which serving alone never needs

    key: list[KeyItem] = []
    for name in tasks:
        task = load_task(name, data_dir, allow_builtin_sample=True)
        kind = _KINDS.get(task.spec.grader, "math")
        key += [KeyItem(task.id, item.question, item.answer, kind) for item in task.items]
    return key
