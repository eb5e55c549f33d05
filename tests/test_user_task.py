"""The README's own-task example, taken from the README itself, runs end to end."""

import json
import re
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import UserError
from harness.tasks import load_task

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_example(folder: Path) -> Path:
    section = README.read_text().split("## Your own tasks", 1)[1]
    rows = re.search(r"```jsonl\n(.*?)```", section, re.DOTALL).group(1)
    spec = re.search(r"```yaml\n(.*?)```", section, re.DOTALL).group(1)
    (folder / "my_task.jsonl").write_text(rows)
    (folder / "my_task.yaml").write_text(spec)
    return folder / "my_task.yaml"


def test_readme_task_runs_end_to_end(tmp_path: Path, capsys):
    spec = readme_example(tmp_path)
    run = tmp_path / "run"
    code = main(["run", "--provider", "simulated", "--models", "glm-4.5,glm-4.5-air", "--tasks", str(spec),
                 "--store", str(tmp_path / "s.sqlite"), "--out", str(run)])
    assert code == 0
    rows = [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 2 * 3 * 2
    assert {r["item_id"] for r in rows} == {"q1", "q2", "q3"} and {r["topic"] for r in rows} == {"arithmetic", "fractions", "powers"}
    assert all(r["extracted"] for r in rows), "the simulator answered the user's questions with a boxed answer"
    assert sum(r["correct"] for r in rows) >= 6, "the simulator knows the user task's answer key"
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["tasks"]["my_task"]["prompt_source"].startswith("written by our team")
    assert "my_task" in capsys.readouterr().out


@pytest.mark.parametrize(
    "edit,message",
    [
        (("grader: math", "grader: fuzzy"), r"grader: .*unknown grader 'fuzzy'; allowed: math, integer, mcq"),
        (("path: my_task.jsonl", "path: missing.jsonl"), r"dataset.path 'missing.jsonl' does not exist"),
        (("question: question", "question: prompt"), r"no column 'prompt'"),
        (("source: written", "sauce: written"), r"prompt.sauce: unknown field 'sauce'; allowed: template, source"),
    ],
)
def test_bad_user_task_is_refused_with_file_and_field(tmp_path: Path, edit, message):
    spec = readme_example(tmp_path)
    spec.write_text(spec.read_text().replace(*edit))
    with pytest.raises(UserError, match=message) as err:
        load_task(str(spec))
    assert str(spec) in str(err.value)
