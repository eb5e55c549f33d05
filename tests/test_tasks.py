from collections import Counter
from pathlib import Path

import pytest

from harness.errors import UserError
from harness.tasks import LETTERS, load_task

EXPECTED = {"math500": 500, "aime24": 30, "aime25": 30, "gpqa_diamond": 198}


@pytest.mark.parametrize("task,count", EXPECTED.items())
def test_real_sets_load_from_the_mirror(mirror: Path, task: str, count: int):
    loaded = load_task(task, mirror)
    assert len(loaded.items) == count
    assert len({item.id for item in loaded.items}) == count, "item ids must be unique"
    assert all(item.question and item.answer for item in loaded.items)
    assert loaded.provenance.source == "mirror" and loaded.provenance.rows == count
    assert len(loaded.provenance.fingerprint or "") == 64


def test_math500_prompt_is_zai_protocol(mirror: Path):
    task = load_task("math500", mirror, limit=1)
    text = task.prompt(task.items[0], 0, 0, 0).messages[0]["content"]
    assert text.startswith("Solve the following math problem step by step. Put your answer inside \\boxed{}.\n\n")
    assert text.endswith("\n\nRemember to put your answer inside \\boxed{}.")
    assert task.items[0].question in text
    assert set(task.items[0].extra) == {"subject", "level"}


def test_limit_is_a_fixed_nested_subset(mirror: Path):
    ten = load_task("math500", mirror, limit=10)
    again = load_task("math500", mirror, limit=10)
    twenty = load_task("math500", mirror, limit=20)
    ids10 = [i.id for i in ten.items]
    assert ids10 == [i.id for i in again.items]
    assert set(ids10) < {i.id for i in twenty.items}
    assert ten.provenance.fingerprint != twenty.provenance.fingerprint


def test_items_by_id(mirror: Path):
    task = load_task("aime24", mirror, item_ids=["60", "61"])
    assert [i.id for i in task.items] == ["60", "61"]
    with pytest.raises(UserError, match="none of the --items"):
        load_task("aime24", mirror, item_ids=["nope"])


def test_gpqa_choices_shuffled_reproducibly_and_correct_letter_spread_evenly(mirror: Path):
    task = load_task("gpqa_diamond", mirror)
    letters = Counter()
    for index, item in enumerate(task.items):
        prompt = task.prompt(item, 0, 0, index)
        assert prompt == task.prompt(item, 0, 0, index)
        text = prompt.messages[0]["content"]
        assert f"{prompt.gold}) {item.answer}" in text
        letters[prompt.gold] += 1
    assert set(letters) == set(LETTERS)
    assert max(letters.values()) - min(letters.values()) <= 1, letters
    first = task.items[0]
    orders = {task.prompt(first, s, 0, 0).choice_order for s in range(8)}
    assert len(orders) > 1, "samples of one item must see different orders"


def test_unknown_task_and_missing_mirror_file(tmp_path: Path):
    with pytest.raises(UserError, match="unknown task 'math5000'.*math500"):
        load_task("math5000", tmp_path)
    with pytest.raises(UserError, match="not found in the data mirror"):
        load_task("math500", tmp_path)


def test_builtin_sample_only_when_asked(tmp_path: Path):
    task = load_task("math500", tmp_path, allow_builtin_sample=True)
    assert len(task.items) == 20 and task.provenance.source == "built-in sample"


def test_user_task_missing_column_is_refused(tmp_path: Path):
    (tmp_path / "rows.jsonl").write_text('{"q": "1+1?", "a": "2"}\n')
    spec = tmp_path / "t.yaml"
    spec.write_text(
        "id: mine\ndataset: {path: rows.jsonl}\nfields: {question: question, answer: a}\n"
        "prompt: {template: '{question}', source: me}\ngrader: math\n"
    )
    with pytest.raises(UserError, match=r"t\.yaml: the dataset has no column 'question'.*q, a"):
        load_task(str(spec))
