import asyncio
import sqlite3
from pathlib import Path

from harness.config import load_models
from harness.plan import build_plan, request_seed
from harness.providers import Sampling, resolve_provider
from harness.store import FAILED, OK, Store, StoredResponse, StoreWriter
from harness.tasks import load_task

TASK_YAML = """id: tiny
dataset: {path: rows.jsonl}
fields: {id: id, question: q, answer: a}
prompt: {template: "Q: {question}", source: written for the test}
grader: math
samples: 2
"""


def tiny_task(tmp_path: Path):
    (tmp_path / "rows.jsonl").write_text('{"id": "a", "q": "1+1?", "a": "2"}\n{"id": "b", "q": "2+2?", "a": "4"}\n')
    (tmp_path / "tiny.yaml").write_text(TASK_YAML)
    return load_task(str(tmp_path / "tiny.yaml"))


def plan_for(tmp_path: Path, provider="simulated", seed=0, sampling: Sampling | None = None):
    task = tiny_task(tmp_path)
    return build_plan(resolve_provider(provider), ["glm-4.5", "glm-4.5-air"], load_models(), {"tiny": task}, {"tiny": 2}, sampling or Sampling(), seed)


def test_plan_covers_models_items_samples_with_stable_unique_keys(tmp_path: Path):
    plan = plan_for(tmp_path)
    assert len(plan.jobs) == 2 * 2 * 2
    keys = [job.key for job in plan.jobs]
    assert len(set(keys)) == len(keys)
    assert keys == [job.key for job in plan_for(tmp_path).jobs]


def test_key_changes_with_what_changes_the_answer_not_with_streaming(tmp_path: Path):
    base = {j.key for j in plan_for(tmp_path).jobs}
    assert base.isdisjoint({j.key for j in plan_for(tmp_path, seed=1).jobs})
    assert base.isdisjoint({j.key for j in plan_for(tmp_path, sampling=Sampling(temperature=1.0)).jobs})
    assert base.isdisjoint({j.key for j in plan_for(tmp_path, provider="local").jobs})
    assert base == {j.key for j in plan_for(tmp_path, sampling=Sampling(stream=False)).jobs}


def test_request_seeds_do_not_collide_across_run_seeds():
    seeds = {request_seed(run, sample) for run in range(20) for sample in range(32)}
    assert len(seeds) == 20 * 32


def _row(key: str, status: str) -> StoredResponse:
    return StoredResponse(key, "p", "m", "{}", status, "x", "", "stop", 1, 2, 0, 0.1, 0.05, 1, None, 0.0)


def test_store_keeps_answers_and_resends_only_failures(tmp_path: Path):
    path = tmp_path / "s.sqlite"
    with Store(path) as store:
        store.put(_row("a", OK))
        store.put(_row("b", FAILED))
    with Store(path) as store:  # a new process would see the same
        assert store.usable_keys(["a", "b", "c"]) == {"a"}
        assert store.get("b").status == FAILED
        store.put(_row("b", OK))
        assert store.usable_keys(["a", "b"]) == {"a", "b"}
        assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert sorted(r.key for r in store.get_many(["a", "b", "zz"])) == ["a", "b"]


def test_the_writer_commits_before_put_returns(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    Store(path).close()
    seen: list[bool] = []

    async def put_all(writer: StoreWriter) -> None:
        async def one(key: str) -> None:
            await writer.put(_row(key, OK))
            with Store(path) as reader:  # another connection sees it once put returns
                seen.append(reader.get(key) is not None)

        await asyncio.gather(*(one(f"k{i}") for i in range(300)))

    with StoreWriter(path) as writer:
        asyncio.run(put_all(writer))
    assert seen == [True] * 300
    with Store(path) as store:
        assert store.usable_keys(f"k{i}" for i in range(300)) == {f"k{i}" for i in range(300)}


def test_the_writer_reports_a_failed_commit_to_each_waiting_put(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    Store(path).close()
    with sqlite3.connect(path) as db:
        db.execute("CREATE TRIGGER refuse BEFORE INSERT ON responses BEGIN SELECT RAISE(ABORT, 'disk is full'); END")

    async def put_two(writer: StoreWriter) -> list[BaseException | None]:
        return await asyncio.gather(writer.put(_row("a", OK)), writer.put(_row("b", OK)), return_exceptions=True)

    with StoreWriter(path) as writer:
        errors = asyncio.run(put_two(writer))
    assert all(isinstance(e, sqlite3.Error) and "disk is full" in str(e) for e in errors)
    with Store(path) as store:
        assert store.get("a") is None and store.get("b") is None
