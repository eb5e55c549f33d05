"""Running the simulator as a process (`glm-eval sim`): serve an answer key until stopped."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Sequence

from harness.errors import UserError

from .key import KeyItem
from .options import SimOptions
from .server import start_server

READY_PREFIX = "glm-eval sim listening on "
"""The line a parent process waits for (harness/simproc.py); the base URL follows it."""
API_KEY_ENV = "GLM_EVAL_SIM_KEY"


def serve(options: SimOptions, answer_key: Sequence[KeyItem], host: str = "127.0.0.1", port: int = 0,
          ready: Callable[[int], None] | None = None) -> None:
    """Run until SIGINT or SIGTERM. Once listening, calls ready(port), or prints the READY line."""

    async def main() -> None:
        try:
            runner, bound = await start_server(options, answer_key, host, port)
        except OSError as exc:
            raise UserError(f"cannot listen on {host}:{port} ({exc.strerror}); give another --port, or --port 0 for a free one") from None
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
