"""The built wheel, installed away from the clone, finds its configs and tasks (issue 14, item 1).

An editable install reads configs/ and tasks/ from the checkout; a wheel has no checkout, and
before the defaults were packaged `glm-eval tasks` printed an empty table and `providers` failed
with a path inside site-packages. Built offline (--no-build-isolation), installed with --no-deps
into a fresh venv; the dependencies come from the test environment's own site-packages.
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("wheel")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(root / "dist"), str(REPO)],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next((root / "dist").glob("glm_eval-*.whl"))
    venv.create(root / "venv", with_pip=True)
    bin_dir = root / "venv" / "bin"
    install = subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", str(wheel)],
                             capture_output=True, text=True)
    assert install.returncode == 0, install.stderr[-2000:]
    env = {k: v for k, v in os.environ.items() if k != "GLM_EVAL_HOME"}
    env["PYTHONPATH"] = os.pathsep.join(site.getsitepackages())  # the dependencies, not the checkout
    return bin_dir, env


def glm_eval(installed: tuple[Path, dict[str, str]], cwd: Path, *args: str) -> subprocess.CompletedProcess:
    bin_dir, env = installed
    return subprocess.run([str(bin_dir / "glm-eval"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_the_wheel_finds_its_own_configs_and_tasks(installed, tmp_path: Path, mirror: Path):
    where = glm_eval(installed, tmp_path, "--version")
    assert where.returncode == 0
    code = "import harness.paths as p, json; print(json.dumps([str(p.CONFIGS), str(p.TASKS)]))"
    paths = subprocess.run([str(installed[0] / "python"), "-c", code], cwd=tmp_path, env=installed[1], capture_output=True, text=True)
    configs, tasks = map(Path, json.loads(paths.stdout))
    assert str(REPO) not in str(configs) and "site-packages" in str(configs), "the installed copy, not the checkout"
    listed = glm_eval(installed, tmp_path, "tasks")
    assert listed.returncode == 0 and all(t in listed.stdout for t in ("math500", "aime24", "aime25", "gpqa_diamond"))
    providers = glm_eval(installed, tmp_path, "providers")
    assert providers.returncode == 0 and "zai" in providers.stdout and "openrouter" in providers.stdout
    dry = glm_eval(installed, tmp_path, "run", "--provider", "zai", "--models", "glm-4.5", "--tasks", "math500", "--limit", "5",
                   "--data-dir", str(mirror), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "math500" in dry.stdout.lower() or "MATH-500" in dry.stdout


def test_glm_eval_home_overrides_the_defaults(installed, tmp_path: Path):
    home = tmp_path / "home"
    (home / "configs").mkdir(parents=True)
    (home / "tasks").mkdir()
    for name in ("models.yaml", "prices.yaml", "simulator.yaml", "reference.yaml"):
        (home / "configs" / name).write_text((REPO / "configs" / name).read_text())
    (home / "configs" / "providers.yaml").write_text(
        "providers:\n  mine:\n    description: my own server\n    base_url: http://127.0.0.1:9/v1\n    api_key_env: MY_KEY\n"
    )
    bin_dir, env = installed
    listed = subprocess.run([str(bin_dir / "glm-eval"), "providers"], cwd=tmp_path, env={**env, "GLM_EVAL_HOME": str(home)},
                            capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0 and "mine" in listed.stdout and "zai" not in listed.stdout
