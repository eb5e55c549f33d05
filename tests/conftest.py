"""Shared fixtures. Tests talk only to loopback; the real benchmark sets come from the mirror
beside the repository (../shared/data), and tests that need it skip, saying why, when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
MIRROR = Path(os.environ.get("GLM_EVAL_TEST_MIRROR", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def mirror() -> Path:
    if not (MIRROR / "HuggingFaceH4" / "MATH-500" / "test.jsonl").exists():
        pytest.skip(f"the real benchmark mirror is absent ({MIRROR}); set GLM_EVAL_TEST_MIRROR to a folder laid out <hub-id>/<file>")
    return MIRROR
