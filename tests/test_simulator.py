"""The simulated endpoint over real HTTP on loopback: formats, errors, faults, determinism,
calibration, truncation and the request log."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.simulator import FixedLatency, KeyItem, SimOptions, start_server
from harness.simulator.protocol import canonical_json

KEY = "sim-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
MATH = KeyItem("math500", "Let $f(x) = 2x + 1$. What is the value of $f(f(1))$ when evaluated?", "7", "math")
GPQA = KeyItem("gpqa_diamond", "Which boson carries the electromagnetic interaction between charges?",
               "The photon", "mcq")
CALIBRATION = [KeyItem("aime24", f"Problem {i}: count the lattice points inside region number {i} of the plane.",
                       str(100 + i), "math") for i in range(400)]
TEMPLATE = "Solve the following math problem step by step.\n\n{q}\n\nRemember to put your answer inside \\boxed{{}}."


@contextlib.contextmanager
def running(options: SimOptions, key: list[KeyItem]) -> Iterator[str]:
    """A simulator on a free loopback port, served from its own thread and event loop."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    runner, port = asyncio.run_coroutine_threadsafe(start_server(options, key), loop).result(10)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


@pytest.fixture(scope="module")
def log_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sim") / "requests.jsonl"


@pytest.fixture(scope="module")
def base(log_path: Path) -> Iterator[str]:
    with running(SimOptions(time_scale=0.00005, request_log=log_path), [MATH, GPQA, *CALIBRATION]) as url:
        yield url


@pytest.fixture
def client(base: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base, headers=AUTH, timeout=10) as c:
        yield c
        c.post("/_sim/faults", json={})  # whatever a test set, the next one starts without faults


def ask(question: str = MATH.question, **fields: Any) -> dict[str, Any]:
    return {"model": "glm-4.5", "messages": [{"role": "user", "content": TEMPLATE.format(q=question)}], **fields}


def mcq_prompt(order: str) -> str:
    texts = {"p": "The photon", "g": "The gluon", "w": "The W boson", "z": "The Z boson"}
    options = "\n".join(f"{letter}) {texts[c]}" for letter, c in zip("ABCD", order))
    return f"Answer with ANSWER: LETTER.\n\n{GPQA.question}\n\n{options}"


def boxed(text: str) -> str | None:
    """The last \\boxed{...}, braces balanced (what a math grader reads)."""
    start = text.rfind("\\boxed{")
    if start < 0:
        return None
    depth, i = 0, start + len("\\boxed")
    for j in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[i + 1 : j]
    return None


def letter(text: str) -> str | None:
    found = re.findall(r"(?:ANSWER:|Answer:\**|answer is|boxed\{)\s*\(?([A-D])\b", text)
    return found[-1] if found else None


def sse(client: httpx.Client, body: dict[str, Any]) -> list[Any]:
    """The decoded data of every event of a stream, '[DONE]' kept as a string."""
    with client.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        datas = [line[len("data: "):] for line in response.iter_lines() if line.startswith("data: ")]
    return [d if d == "[DONE]" else json.loads(d) for d in datas]


# -- protocol ----------------------------------------------------------------------------------


def test_models_listed_on_both_paths(client: httpx.Client, base: str) -> None:
    for path in ("/v1/models", "/api/paas/v4/models"):
        ids = [m["id"] for m in client.get(path).json()["data"]]
        assert ids == ["glm-4.5", "glm-4.5-air", "glm-4.5-x", "glm-4.5-airx", "glm-4.5-flash"]
    assert httpx.get(f"{base}/v1/models").status_code == 401


def test_json_completion_as_openai_clients_read_it(client: httpx.Client) -> None:
    response = client.post("/v1/chat/completions", json=ask(temperature=0.6, top_p=0.95))
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion" and body["model"] == "glm-4.5"
    choice = body["choices"][0]
    message, usage = choice["message"], body["usage"]
    assert choice["finish_reason"] == "stop" and message["role"] == "assistant"
    reasoning_words, content_words = len(message["reasoning_content"].split()), len(message["content"].split())
    assert usage["completion_tokens_details"]["reasoning_tokens"] == reasoning_words > 0
    assert usage["completion_tokens"] == reasoning_words + content_words  # reasoning included
    assert usage["prompt_tokens"] == len(TEMPLATE.format(q=MATH.question).split())
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    answer = boxed(message["content"])
    # The reasoning may state an answer part-way (as real reasoning does); if it boxes one, it is the final one.
    assert answer is not None and boxed(message["reasoning_content"]) in (None, answer)


def test_zai_path_and_stream_match_the_json_answer(client: httpx.Client) -> None:
    whole = client.post("/api/paas/v4/chat/completions", json=ask(seed=3)).json()
    events = sse(client, ask(seed=3, stream_options={"include_usage": True}))
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert deltas[0]["role"] == "assistant"
    kinds = [next(k for k in d if k != "role") for d in deltas[:-1]]
    assert kinds == sorted(kinds, reverse=True) and set(kinds) == {"reasoning_content", "content"}
    reasoning = "".join(d.get("reasoning_content", "") for d in deltas)
    content = "".join(d.get("content", "") for d in deltas)
    message = whole["choices"][0]["message"]
    assert (reasoning, content) == (message["reasoning_content"], message["content"])
    finish = [c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    assert len(finish) == 1 and finish[0]["choices"][0]["finish_reason"] == "stop"
    assert finish[0]["usage"] == whole["usage"]  # Z.ai: usage on the last chunk
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == whole["usage"]  # include_usage


def test_streams_are_chunked_by_several_tokens() -> None:
    def sizes(time_scale: float, max_tokens: int) -> list[int]:
        with running(SimOptions(time_scale=time_scale, chunk_tokens=16), [MATH]) as url, \
                httpx.Client(base_url=url, headers=AUTH, timeout=10) as c:
            events = sse(c, ask(max_tokens=max_tokens))
        deltas = [e["choices"][0]["delta"] for e in events[:-1] if e["choices"]][:-1]
        return [len(next(v for k, v in d.items() if k != "role").split()) for d in deltas]

    # glm-4.5 makes 60 tokens/s. At time scale 1 a token comes every 17 ms: chunks of 16.
    assert sizes(1.0, 40) == [16, 16, 8]
    # At 0.1, every 1.7 ms: merged so that events stay >= 50 ms apart (30 tokens).
    assert sizes(0.1, 100) == [30] * 3 + [10]


def test_wrong_key_unknown_model_and_malformed_body(client: httpx.Client, base: str) -> None:
    for headers in ({"Authorization": "Bearer nope"}, {}):
        response = httpx.post(f"{base}/v1/chat/completions", json=ask(), headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_api_key"
        assert response.json()["error"]["type"] == "invalid_request_error"
    response = client.post("/v1/chat/completions", json={**ask(), "model": "glm-9"})
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "model_not_found" and "glm-9" in error["message"] and "glm-4.5-air" in error["message"]
    assert client.post("/v1/chat/completions", content=b"{not json").status_code == 400
    response = client.post("/v1/chat/completions", json={"model": "glm-4.5"})
    assert response.status_code == 400 and "messages" in response.json()["error"]["message"]


# -- answers -----------------------------------------------------------------------------------


@pytest.mark.parametrize("switch", [
    {"thinking": {"type": "disabled"}},
    {"chat_template_kwargs": {"enable_thinking": False}},
    {"reasoning": {"enabled": False}},
])
def test_thinking_off_in_every_dialect(client: httpx.Client, switch: dict[str, Any]) -> None:
    body = client.post("/v1/chat/completions", json=ask(**switch)).json()
    assert "reasoning_content" not in body["choices"][0]["message"]
    assert body["usage"]["completion_tokens_details"]["reasoning_tokens"] == 0


def test_excluded_reasoning_is_counted_but_not_sent(client: httpx.Client) -> None:
    body = client.post("/v1/chat/completions", json=ask(reasoning={"effort": "high", "exclude": True})).json()
    assert "reasoning_content" not in body["choices"][0]["message"]
    assert body["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0


def test_think_tags_format() -> None:
    with running(SimOptions(time_scale=0, reasoning_format="think_tags"), [MATH]) as url, \
            httpx.Client(base_url=url, headers=AUTH) as c:
        body = c.post("/v1/chat/completions", json=ask()).json()
        events = sse(c, ask())
    message = body["choices"][0]["message"]
    assert "reasoning_content" not in message and "completion_tokens_details" not in body["usage"]
    assert message["content"].startswith("<think>") and "</think>\n\n" in message["content"]
    assert boxed(message["content"].split("</think>")[1]) is not None
    assert "".join(e["choices"][0]["delta"].get("content", "") for e in events[:-1] if e["choices"]) == message["content"]


def test_max_tokens_cuts_reasoning_first(client: httpx.Client) -> None:
    # max_tokens is part of the request, so each limit is its own draw; what is fixed is the rule.
    body = client.post("/v1/chat/completions", json=ask(max_tokens=50)).json()
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["choices"][0]["message"]["content"] == ""  # the reasoning used it all up
    assert len(body["choices"][0]["message"]["reasoning_content"].split()) == 50
    assert body["usage"]["completion_tokens"] == 50
    body = client.post("/v1/chat/completions", json=ask(max_completion_tokens=5, thinking={"type": "disabled"})).json()
    assert body["choices"][0]["finish_reason"] == "length"
    assert len(body["choices"][0]["message"]["content"].split()) == 5
    events = sse(client, ask(max_tokens=50))
    finish = [e for e in events[:-1] if e["choices"] and e["choices"][0]["finish_reason"]]
    assert finish[0]["choices"][0]["finish_reason"] == "length" and finish[0]["usage"]["completion_tokens"] == 50


def test_same_request_same_answer_other_seed_independent(client: httpx.Client) -> None:
    first = client.post("/v1/chat/completions", json=ask(seed=11)).json()["choices"][0]["message"]
    again = client.post("/v1/chat/completions", json=ask(seed=11)).json()["choices"][0]["message"]
    assert first == again
    # glm-4.5-flash with thinking off on one GPQA item: p ~ 0.6 x 0.65, so seeds give both outcomes.
    letters = []
    for seed in range(40):
        body = {"model": "glm-4.5-flash", "seed": seed, "thinking": {"type": "disabled"},
                "messages": [{"role": "user", "content": mcq_prompt("gpzw")}]}
        letters.append(letter(client.post("/v1/chat/completions", json=body).json()["choices"][0]["message"]["content"]))
    assert 5 <= letters.count("B") <= 30 and set(letters) <= {"A", "B", "C", "D", None}


def test_mcq_letter_follows_the_shuffled_gold(client: httpx.Client) -> None:
    hits = total = 0
    for seed, order in enumerate(["pgwz", "gpwz", "gwpz", "gwzp"] * 15):
        body = {"model": "glm-4.5", "seed": seed, "reasoning": {"exclude": True},
                "messages": [{"role": "user", "content": mcq_prompt(order)}]}
        content = client.post("/v1/chat/completions", json=body).json()["choices"][0]["message"]["content"]
        hits += letter(content) == "ABCD"[order.index("p")]
        total += 1
    assert 0.6 <= hits / total <= 0.97  # glm-4.5's GPQA profile is 0.791


def test_accuracy_is_calibrated_to_the_profile(client: httpx.Client) -> None:
    """400 items, one sample each: glm-4.5 on aime24 (0.910), thinking on and off (x 0.75)."""

    async def accuracy(thinking: dict[str, Any]) -> float:
        async with httpx.AsyncClient(base_url=str(client.base_url), headers=AUTH, timeout=30) as c:
            gate = asyncio.Semaphore(8)

            async def one(item: KeyItem) -> bool:
                async with gate:
                    r = await c.post("/v1/chat/completions", json=ask(item.question, **thinking))
                answer = boxed(r.json()["choices"][0]["message"]["content"]) or ""
                return answer.removeprefix("x=").lstrip("0") == item.gold

            results = await asyncio.gather(*(one(item) for item in CALIBRATION))
        return sum(results) / len(results)

    # Thinking on, its text left out of the replies (OpenRouter's exclude) to keep the test quick.
    assert asyncio.run(accuracy({"reasoning": {"exclude": True}})) == pytest.approx(0.910, abs=0.04)
    assert asyncio.run(accuracy({"thinking": {"type": "disabled"}})) == pytest.approx(0.910 * 0.75, abs=0.06)


def test_unknown_prompt_gets_an_answer_and_is_counted(client: httpx.Client) -> None:
    before = client.get("/_sim/stats").json()["unknown_prompts"]
    body = client.post("/v1/chat/completions", json=ask("A question that no key holds, not even close.")).json()
    assert boxed(body["choices"][0]["message"]["content"]) is not None
    assert client.get("/_sim/stats").json()["unknown_prompts"] == before + 1


# -- faults ------------------------------------------------------------------------------------


def set_faults(client: httpx.Client, **faults: Any) -> None:
    response = client.post("/_sim/faults", json=faults)
    assert response.status_code == 200, response.text
    assert client.get("/_sim/faults").json() == response.json()


@pytest.mark.parametrize(("fault", "status"), [("http_500", 500), ("http_502", 502), ("http_503", 503)])
def test_server_errors(client: httpx.Client, fault: str, status: int) -> None:
    set_faults(client, **{fault: 1.0})
    response = client.post("/v1/chat/completions", json=ask(seed=status))
    assert response.status_code == status
    if status == 502:
        assert response.headers["content-type"].startswith("text/html")  # as a gateway answers
    else:
        assert response.json()["error"]["type"] == "server_error"


def test_429_with_and_without_retry_after(client: httpx.Client) -> None:
    set_faults(client, http_429=1.0, retry_after_s=7)
    response = client.post("/v1/chat/completions", json=ask())
    assert response.status_code == 429 and response.headers["retry-after"] == "7"
    assert response.json()["error"]["code"] == "rate_limit_exceeded"
    set_faults(client, http_429_no_retry_after=1.0)
    response = client.post("/v1/chat/completions", json=ask())
    assert response.status_code == 429 and "retry-after" not in response.headers


def test_retried_request_gets_a_fresh_draw(client: httpx.Client) -> None:
    set_faults(client, http_503=0.5)
    statuses = [client.post("/v1/chat/completions", json=ask(seed=99)).status_code for _ in range(16)]
    assert set(statuses) == {200, 503}


def test_dropped_stream_and_dropped_connection(client: httpx.Client) -> None:
    set_faults(client, drop=1.0)
    received: list[str] = []
    with pytest.raises(httpx.RemoteProtocolError):
        with client.stream("POST", "/v1/chat/completions", json=ask(stream=True)) as response:
            received.extend(response.iter_lines())
    assert received and "data: [DONE]" not in received
    with pytest.raises(httpx.RemoteProtocolError):
        client.post("/v1/chat/completions", json=ask())


def test_slow_answer_exceeds_a_read_timeout(client: httpx.Client) -> None:
    set_faults(client, slow=1.0, slow_s=1.0)
    with pytest.raises(httpx.ReadTimeout):
        client.post("/v1/chat/completions", json=ask(), timeout=httpx.Timeout(5, read=0.3))


def test_malformed_empty_and_filtered_answers(client: httpx.Client) -> None:
    set_faults(client, malformed_json=1.0)
    response = client.post("/v1/chat/completions", json=ask())
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        response.json()
    set_faults(client, empty_choices=1.0)
    assert client.post("/v1/chat/completions", json=ask()).json()["choices"] == []
    assert [e["choices"] for e in sse(client, ask())[:-1]] == [[]]
    set_faults(client, content_filter=1.0)
    body = client.post("/v1/chat/completions", json=ask()).json()
    assert body["choices"][0]["finish_reason"] == "content_filter"


def test_requests_per_minute_limit(client: httpx.Client) -> None:
    set_faults(client, rpm_limit=60, rpm_burst=2)
    statuses = [client.post("/v1/chat/completions", json=ask(seed=i)) for i in range(3)]
    assert [r.status_code for r in statuses] == [200, 200, 429]
    assert int(statuses[2].headers["retry-after"]) >= 1


def test_invalid_faults_are_refused(client: httpx.Client) -> None:
    response = client.post("/_sim/faults", json={"http_5OO": 0.5})
    assert response.status_code == 400 and "http_5OO" in response.json()["error"]["message"]
    assert client.post("/_sim/faults", json={"http_500": 0.7, "drop": 0.7}).status_code == 400


# -- log, stats, benchmark mode, process ------------------------------------------------------


def test_request_log_has_a_line_per_request_while_running(client: httpx.Client, base: str,
                                                          log_path: Path) -> None:
    body = ask(seed=4242)
    client.post("/v1/chat/completions", json=body)
    httpx.post(f"{base}/v1/chat/completions", json=body, headers={"Authorization": "Bearer bad"})
    lines = [json.loads(line) for line in log_path.read_text().splitlines()]
    mine = [line for line in lines if line.get("seed") == 4242]
    assert [line["status"] for line in mine] == [200, 401]
    digest = hashlib.sha256(canonical_json(body)).hexdigest()
    assert all(line["body_sha256"] == digest for line in mine)
    assert {"time", "path", "model", "stream", "seed", "body_sha256", "status"} <= set(mine[0])
    assert mine[0]["task"] == "math500" and isinstance(mine[0]["correct"], bool)


def test_stats_count_per_status_and_model(client: httpx.Client) -> None:
    before = client.get("/_sim/stats").json()
    client.post("/v1/chat/completions", json={**ask(), "model": "glm-4.5-air"})
    client.post("/v1/chat/completions", json={**ask(), "model": "nope"})
    after = client.get("/_sim/stats").json()
    assert after["by_model"]["glm-4.5-air"] == before["by_model"].get("glm-4.5-air", 0) + 1
    assert after["by_status"]["404"] == before["by_status"].get("404", 0) + 1
    assert after["cpu_s"] > 0 and after["max_in_flight"] >= after["in_flight"] >= 0


def test_fixed_latency_mode() -> None:
    def timed(fixed: FixedLatency, stream: bool) -> tuple[float, list[Any]]:
        with running(SimOptions(fixed_latency=fixed), []) as url, httpx.Client(base_url=url, headers=AUTH) as c:
            started = time.perf_counter()
            if stream:
                events = sse(c, ask())
            else:
                events = [c.post("/v1/chat/completions", json=ask()).json()]
            return time.perf_counter() - started, events

    elapsed, (body,) = timed(FixedLatency(latency_ms=150, tokens=200), stream=False)
    # at least the latency; the upper bounds are generous (a shared machine), far below a real-time profile's seconds
    assert 0.15 <= elapsed < 2.0 and body["usage"]["completion_tokens"] == 200
    elapsed, events = timed(FixedLatency(latency_ms=150, tokens=200, stream_tokens_per_s=2000), stream=True)
    assert 0.15 + 0.1 <= elapsed < 2.0  # 200 tokens at 2,000/s after the latency
    assert events[-1] == "[DONE]" and events[-2]["usage"]["completion_tokens"] == 200


def test_serve_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    script = ("from harness.simulator import SimOptions, serve\n"
              "serve(SimOptions(time_scale=0), [], ready=lambda port: print(port, flush=True))\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parent.parent)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        assert httpx.get(f"http://127.0.0.1:{port}/v1/models", headers=AUTH).status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
