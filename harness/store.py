"""The response store: every answer a provider gave, committed the moment it arrives.

SQLite in WAL mode, one row per request key (a hash of the canonical request). A response is paid
for once: a rerun sends only the keys that have no usable row, and grading, reports and regrading
read from here with no network. Failed requests are kept too (with their error), and are sent
again by the next run; items the provider's content filter refused are kept and not sent again.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import IO, Any

from harness.errors import UserError

SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    model_id TEXT NOT NULL,
    request TEXT NOT NULL,
    status TEXT NOT NULL,
    content TEXT,
    reasoning TEXT,
    finish_reason TEXT,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    reasoning_tokens INTEGER,
    latency_s REAL,
    ttft_s REAL,
    attempts INTEGER NOT NULL,
    error TEXT,
    created_at REAL NOT NULL,
    served_model TEXT,
    served_by TEXT,
    cached_tokens INTEGER,
    cache_write_tokens INTEGER,
    reported_cost REAL,
    via TEXT
);
CREATE TABLE IF NOT EXISTS batches (
    id TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    base_url TEXT NOT NULL,
    model_id TEXT NOT NULL,
    keys TEXT NOT NULL,
    status TEXT NOT NULL,
    submitted_at REAL NOT NULL,
    collected_at REAL
);
"""
# Columns added after the first release, with their type: a store written before them gains them
# (empty) when it is opened, so its answers stay usable.
_ADDED = {
    "served_model": "TEXT", "served_by": "TEXT", "cached_tokens": "INTEGER", "cache_write_tokens": "INTEGER", "reported_cost": "REAL",
    "via": "TEXT",
}
INTERACTIVE = "interactive"
BATCH = "batch"  # answered through the provider's batch API (Files + Batches), at its batch price

OK = "ok"
FAILED = "failed"
FILTERED = "filtered"  # the provider's content filter refused the item: kept, and not sent again
KEPT = (OK, FILTERED)


@dataclass(frozen=True)
class StoredResponse:
    key: str
    provider: str
    model_id: str
    request: str
    status: str
    content: str | None
    reasoning: str | None
    finish_reason: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    reasoning_tokens: int | None
    latency_s: float | None
    ttft_s: float | None
    attempts: int
    error: str | None
    created_at: float
    served_model: str | None = None  # the id the server says it served (the response's `model`)
    served_by: str | None = None  # the upstream host an aggregator routed to (OpenRouter's `provider`)
    cached_tokens: int | None = None  # prompt tokens the provider read from its cache (billed lower)
    cache_write_tokens: int | None = None  # prompt tokens written to the cache (OpenRouter)
    reported_cost: float | None = None  # the request's cost as the provider reported it (OpenRouter's usage.cost)
    via: str | None = None  # "batch" when the answer came through a batch API; None or "interactive" otherwise


_COLUMNS = [f.name for f in fields(StoredResponse)]


@dataclass(frozen=True)
class SubmittedBatch:
    """A batch handed to a provider's batch API and not yet collected: a rerun waits for it and
    downloads its answers instead of paying for the same requests again."""

    id: str
    provider: str
    base_url: str
    model_id: str
    keys: tuple[str, ...]
    status: str
    submitted_at: float


class Store:
    """One SQLite file, opened by one process at a time per run; other readers are safe (WAL)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        wal = path.with_name(path.name + "-wal")
        if path.is_file() and path.stat().st_size == 0 and not (wal.is_file() and wal.stat().st_size > 0):
            # SQLite would take an empty file for a new store, and every answer would be bought again. A
            # store is never empty once opened (the schema is checkpointed into it below); before that
            # its answers may live only in the -wal file, which SQLite reads back.
            raise UserError(
                f"the response store {path} is empty (0 bytes): it was truncated, or is not a store. If it should hold "
                f"answers, restore it from a copy (a {path.name}-wal file beside it may still hold the latest ones); "
                f"to start a new store, move it away or give another --store"
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, timeout=30.0, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode survives a killed process (not a power cut) and costs no fsync
            # per answer; a killed run loses nothing it had committed.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
            present = {row[1] for row in self._db.execute("PRAGMA table_info(responses)")}
            for column, kind in _ADDED.items():
                if column not in present:
                    self._db.execute(f"ALTER TABLE responses ADD COLUMN {column} {kind}")
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the file holds the schema from now on: never 0 bytes
        except sqlite3.DatabaseError as exc:
            raise UserError(
                f"the response store {path} is damaged ({exc}). Recover what can be read with "
                f"`sqlite3 {path} .recover | sqlite3 recovered.sqlite` and pass --store recovered.sqlite, "
                f"or move it away to start a new store"
            ) from None
        except (sqlite3.Error, OSError) as exc:
            raise UserError(f"cannot open the response store {path} ({exc}); check the folder is writable") from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def put(self, response: StoredResponse) -> None:
        """Commit one response now (autocommit): nothing after this can lose it."""
        _insert(self._db, [response])

    def usable_keys(self, keys: Iterable[str], resend_filtered: bool = False) -> set[str]:
        """Which of `keys` already have an outcome worth keeping: an answer, or the provider's
        content filter (the same request would be refused again, unless `resend_filtered` asks to
        try); failed requests are sent again."""
        kept = (OK,) if resend_filtered else KEPT
        found: set[str] = set()
        batch: list[str] = []
        for key in keys:
            batch.append(key)
            if len(batch) == 500:
                found |= self._usable(batch, kept)
                batch = []
        if batch:
            found |= self._usable(batch, kept)
        return found

    def _usable(self, batch: list[str], kept: tuple[str, ...]) -> set[str]:
        rows = self._db.execute(
            f"SELECT key FROM responses WHERE status IN ({','.join('?' * len(kept))}) AND key IN ({','.join('?' * len(batch))})",
            [*kept, *batch],
        )
        return {r[0] for r in rows}

    def get_many(self, keys: list[str]) -> Iterator[StoredResponse]:
        """The stored rows for `keys`, in no particular order, a batch at a time (bounded memory)."""
        for start in range(0, len(keys), 500):
            batch = keys[start : start + 500]
            marks = ",".join("?" * len(batch))
            for row in self._db.execute(f"SELECT {', '.join(_COLUMNS)} FROM responses WHERE key IN ({marks})", batch):
                yield StoredResponse(*row)

    def add_batch(self, batch: SubmittedBatch) -> None:
        """Record a batch the moment the provider has accepted it (autocommit)."""
        self._db.execute(
            "INSERT OR REPLACE INTO batches (id, provider, base_url, model_id, keys, status, submitted_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [batch.id, batch.provider, batch.base_url, batch.model_id, json.dumps(batch.keys), batch.status, batch.submitted_at],
        )

    def batch_done(self, batch_id: str, status: str) -> None:
        """The batch's answers are all in `responses` (or it is gone): nothing more to wait for."""
        self._db.execute("UPDATE batches SET status = ?, collected_at = ? WHERE id = ?", [status, time.time(), batch_id])

    def open_batches(self, provider: str, base_url: str) -> list[SubmittedBatch]:
        """Batches submitted to this provider at this address and not collected, oldest first."""
        rows = self._db.execute(
            "SELECT id, provider, base_url, model_id, keys, status, submitted_at FROM batches "
            "WHERE provider = ? AND base_url = ? AND collected_at IS NULL ORDER BY submitted_at",
            [provider, base_url],
        )
        return [SubmittedBatch(r[0], r[1], r[2], r[3], tuple(json.loads(r[4])), r[5], r[6]) for r in rows]

    def get(self, key: str) -> StoredResponse | None:
        row = self._db.execute(f"SELECT {', '.join(_COLUMNS)} FROM responses WHERE key = ?", [key]).fetchone()
        return StoredResponse(*row) if row else None


_INSERT = f"INSERT OR REPLACE INTO responses ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"


def _insert(db: sqlite3.Connection, responses: list[StoredResponse]) -> None:
    """One transaction for all of `responses`."""
    rows = [tuple(getattr(r, c) for c in _COLUMNS) for r in responses]
    db.execute("BEGIN")
    try:
        db.executemany(_INSERT, rows)
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


class StoreWriter:
    """Commits responses on a thread of its own, all that are waiting in one transaction.

    A commit per answer on the event loop took 28% of the sending phase at 256 concurrent
    requests (bench/README.md): SQLite releases the GIL while it writes, so on its own thread the
    commit runs beside the event loop, and answers that arrive together share one transaction.
    `put` returns only once its answer is committed, so nothing downstream (grading, progress)
    ever sees an answer the store could still lose; `close` commits whatever is still queued.
    """

    MAX_BATCH = 512

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._queue: queue.SimpleQueue[tuple[StoredResponse, asyncio.Future[None]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name="glm-eval-store", daemon=True)
        self._thread.start()

    async def put(self, response: StoredResponse) -> None:
        """Wait until `response` is committed; raises the sqlite3.Error that kept it out."""
        done = asyncio.get_running_loop().create_future()
        self._queue.put((response, done))
        await done

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        self._db.close()

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _serve(self) -> None:
        running = True
        while running:
            batch = [self._queue.get()]
            while len(batch) < self.MAX_BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            running = None not in batch
            waiting = [item for item in batch if item is not None]
            if not waiting:
                continue
            error: sqlite3.Error | None = None
            try:
                _insert(self._db, [response for response, _ in waiting])
            except sqlite3.Error as exc:
                error = exc
            try:
                waiting[0][1].get_loop().call_soon_threadsafe(_settle, [done for _, done in waiting], error)
            except RuntimeError:  # the loop is closed (the run was interrupted): nobody is waiting
                pass


def _settle(futures: list[asyncio.Future[None]], error: sqlite3.Error | None) -> None:
    for done in futures:
        if done.done():  # its request was cancelled (Ctrl-C): the answer is committed all the same
            continue
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class StoreLock:
    """One run at a time per store: two runs sharing a store would both send the requests it
    lacks and pay for them twice. The lock is an OS file lock, so a killed run releases it."""

    def __init__(self, store: Path, command: list[str]) -> None:
        self.path = store.with_name(store.name + ".lock")
        self.command = command
        self._file: IO[str] | None = None

    def __enter__(self) -> StoreLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = self.path.open("a+", encoding="utf-8")
        except OSError as exc:
            raise UserError(f"cannot create the response store in {self.path.parent} ({exc.strerror}); give a writable --store") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another run"
            handle.close()
            raise UserError(
                f"the response store {self.path.with_suffix('')} is in use by {holder}; "
                f"wait for that run to end, or give this one its own --store"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}: {' '.join(self.command)}")
        handle.flush()
        self._file = handle
        return self

    def __exit__(self, *exc: object) -> None:
        if self._file is not None:
            self._file.seek(0)
            self._file.truncate()
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
