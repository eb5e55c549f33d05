"""The protocol layer on canned HTTP exchanges, served by an aiohttp server on 127.0.0.1."""

import asyncio
import json
from collections.abc import Callable

import pytest
from aiohttp import web

from harness.client import ChatClient, Fatal, Filtered, Retryable, split_reasoning


def run(reply: Callable[[], web.Response | list[bytes | float]], body, timeout_s: float = 5.0, stream_usage: bool = True):
    """Send `body` to a server that answers with `reply()`: a Response, or SSE bytes written in
    the chunks given (so that events split across network reads are exercised), a float being a
    pause in seconds."""
    expected = {**body, "stream_options": {"include_usage": True}} if body.get("stream") and stream_usage else body

    async def handler(request: web.Request) -> web.StreamResponse:
        assert request.headers["Authorization"] == "Bearer sk-test"
        assert json.loads(await request.read()) == expected
        answer = reply()
        if isinstance(answer, web.StreamResponse):
            return answer
        stream = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await stream.prepare(request)
        for part in answer:
            if isinstance(part, float):  # a pause, in seconds
                await asyncio.sleep(part)
            else:
                await stream.write(part)
                await asyncio.sleep(0.001)
        return stream

    async def go():
        app = web.Application()
        app.router.add_post("/v1/chat/completions", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        try:
            async with ChatClient(f"http://127.0.0.1:{port}/v1/", "sk-test", 4, timeout_s, "KEY_ENV", stream_usage) as client:
                return await client.complete(body)
        finally:
            await runner.cleanup()

    return asyncio.run(go())


def sse(*chunks, done=True):
    lines = [f"data: {json.dumps(c)}\n\n" for c in chunks]
    if done:
        lines.append("data: [DONE]\n\n")
    return "".join(lines).encode()


def delta(**fields):
    finish = fields.pop("finish_reason", None)
    return {"choices": [{"index": 0, "delta": fields, "finish_reason": finish}]}


def json_reply(status=200, data=None, **kwargs):
    return lambda: web.json_response(data, status=status, **kwargs)


USAGE = {"prompt_tokens": 10, "completion_tokens": 30, "completion_tokens_details": {"reasoning_tokens": 20}}
EVENTS = sse(delta(reasoning_content="let me "), delta(reasoning_content="think"), delta(content="The answer is "),
             delta(content="$\\boxed{4}$", finish_reason="stop"), {"choices": [], "usage": USAGE})


@pytest.mark.parametrize("split", [len(EVENTS), 7, 1], ids=["one read", "7-byte reads", "1-byte reads"])
def test_stream_keeps_reasoning_apart_and_reads_usage(split):
    parts = [EVENTS[i : i + split] for i in range(0, len(EVENTS), split)]
    c = run(lambda: parts, {"stream": True})
    assert (c.content, c.reasoning, c.finish_reason) == ("The answer is $\\boxed{4}$", "let me think", "stop")
    assert (c.prompt_tokens, c.completion_tokens, c.reasoning_tokens) == (10, 30, 20)
    assert c.ttft_s is not None and c.latency_s >= c.ttft_s


def test_a_long_event_and_crlf_lines_are_read_whole():
    long = "x" * 300_000  # longer than aiohttp's default line limit (128 KiB)
    events = sse(delta(content=long), delta(content="!", finish_reason="stop")).replace(b"\n", b"\r\n")
    c = run(lambda: [events], {"stream": True})
    assert c.content == long + "!" and c.finish_reason == "stop"


def test_openrouter_reasoning_field_and_json_mode():
    data = {
        "choices": [{"message": {"content": "\\boxed{2}", "reasoning": "hmm"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 5},
    }
    c = run(json_reply(data=data), {"stream": False})
    assert (c.content, c.reasoning, c.reasoning_tokens, c.completion_tokens) == ("\\boxed{2}", "hmm", None, 5)


def test_think_tags_are_reasoning_and_an_unclosed_think_is_no_answer():
    assert split_reasoning("<think>a\nb</think>\n\\boxed{3}", "") == ("\\boxed{3}", "a\nb")
    assert split_reasoning("<think>ran out of tok", "") == ("", "ran out of tok")
    assert split_reasoning("plain", "r") == ("plain", "r")


def test_stream_cut_before_the_end_is_retryable_never_an_answer():
    body = sse(delta(reasoning_content="half a thought"), done=False)
    with pytest.raises(Retryable, match="cut"):
        run(lambda: [body], {"stream": True})


def test_429_carries_retry_after_and_5xx_is_retryable():
    with pytest.raises(Retryable) as err:
        run(json_reply(429, {"error": {"message": "slow down"}}, headers={"Retry-After": "7"}), {"stream": False})
    assert err.value.retry_after == 7.0 and err.value.rate_limited and "slow down" in str(err.value)
    with pytest.raises(Retryable, match="HTTP 503") as err:
        run(lambda: web.Response(status=503), {"stream": True})
    assert not err.value.rate_limited and not err.value.connection


@pytest.mark.parametrize("status,hint", [(401, "KEY_ENV"), (404, "model id"), (400, "sampling")])
def test_client_errors_are_fatal_with_a_fix(status, hint):
    with pytest.raises(Fatal, match=hint) as err:
        run(json_reply(status, {"error": {"message": "nope"}}), {"stream": False})
    assert err.value.status == status and "nope" in str(err.value)


def test_malformed_and_empty_responses_are_retryable():
    with pytest.raises(Retryable, match="malformed JSON"):
        run(lambda: web.Response(body=b"{not json", content_type="application/json"), {"stream": False})
    with pytest.raises(Retryable, match="no choices"):
        run(json_reply(data={"choices": []}), {"stream": False})


def test_a_stream_silent_past_the_read_timeout_is_retryable():
    first = sse(delta(content="a"), done=False)
    with pytest.raises(Retryable, match="timeout"):
        run(lambda: [first, 2.0], {"stream": True}, timeout_s=0.3)


def test_nothing_listening_is_a_connection_failure():
    async def go():
        async with ChatClient("http://127.0.0.1:9/v1", None, 1, 1.0, "KEY_ENV") as client:
            await client.complete({"stream": False})

    with pytest.raises(Retryable) as err:
        asyncio.run(go())
    assert err.value.connection and "cannot connect" in str(err.value)


def test_proxy_comes_from_the_environment_and_no_proxy_is_honoured(monkeypatch):
    from harness.client import _env_proxy

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    assert _env_proxy("https://api.z.ai/api/paas/v4/chat/completions") == "http://proxy.example:3128"
    assert _env_proxy("http://127.0.0.1:8000/v1/chat/completions") is None


# Bodies as the providers send them: Z.ai's {"error": {"code": "<text>"}} (docs.z.ai/api-reference/api-code),
# vLLM 0.32's as seen from a real server (tests/vllm), CometAPI's invalid-request 500, a framework's 404.
@pytest.mark.parametrize(
    "status, body, kind, words",
    [
        (429, {"error": {"code": "1113", "message": "Insufficient balance or no resource package. Please recharge."}}, "run", "recharge the account"),
        (400, {"error": {"code": "1211", "message": "Unknown Model, please check the model code."}}, "model", "check --models"),
        (400, {"error": {"code": "1301", "message": "unsafe or sensitive content"}}, "filtered", "flagged the content"),
        (429, {"error": {"code": "1303", "message": "High concurrency"}}, "retry", "concurrency limit"),
        (429, {"error": {"code": "1305", "message": "overloaded"}}, "retry", "overloaded"),
        (404, {"error": {"message": "The model `glm-4.5` does not exist. Valid aliases: tiny.", "type": "NotFoundError", "param": "model", "code": 404}},
         "model", "check --models"),
        (400, {"error": {"message": "max_tokens=81920 cannot be greater than max_model_len=4096. Please request fewer output tokens.",
                         "type": "BadRequestError", "param": "max_tokens", "code": 400}}, "model", "lower --max-tokens"),
        (500, {"error": {"message": "Invalid request: bad parameters", "type": "invalid_request_error"}}, "model", "the request is invalid"),
        (404, {"detail": "Not Found"}, "run", "missing its path"),
        (500, {"error": {"message": "EngineCore encountered an issue.", "type": "InternalServerError", "param": None, "code": 500}}, "retry", "EngineCore"),
    ],
    ids=["zai-1113", "zai-1211", "zai-1301", "zai-1303", "zai-1305", "vllm-404-model", "vllm-400-max-tokens",
         "cometapi-500-invalid", "framework-404", "vllm-500-engine"],
)
def test_provider_error_bodies_decide_what_happens(status, body, kind, words):
    with pytest.raises((Fatal, Filtered, Retryable)) as caught:
        run(json_reply(status, body), {"stream": False})
    exc = caught.value
    got = ("retry" if isinstance(exc, Retryable) else "filtered" if isinstance(exc, Filtered)
           else "run" if exc.whole_run else "model")
    assert (got, words in str(exc)) == (kind, True), str(exc)


def test_html_from_a_wrong_path_stops_the_run_but_a_gateway_page_is_retried():
    def page(status: int) -> Callable[[], web.Response]:
        return lambda: web.Response(status=status, text="<html><body>Not here</body></html>", content_type="text/html")

    with pytest.raises(Fatal) as caught:
        run(page(404), {"stream": False})
    assert caught.value.whole_run and "missing its path" in str(caught.value)
    with pytest.raises(Fatal):
        run(page(200), {"stream": True})
    with pytest.raises(Retryable):
        run(page(502), {"stream": False})


@pytest.mark.parametrize("reason", ["error", "abort", "network_error"])
def test_in_band_finish_reasons_are_retryable_streamed_and_not(reason):
    with pytest.raises(Retryable, match=reason):
        run(lambda: [sse(delta(content="half an"), delta(finish_reason=reason))], {"stream": True})
    message = {"choices": [{"index": 0, "message": {"content": "half"}, "finish_reason": reason}]}
    with pytest.raises(Retryable, match=reason):
        run(json_reply(200, message), {"stream": False})


def test_an_error_chunk_or_a_missing_finish_reason_is_never_an_answer():
    with pytest.raises(Retryable, match="part-way"):
        run(lambda: [sse(delta(content="4"), {"error": {"message": "engine died", "code": 500}})], {"stream": True})
    with pytest.raises(Retryable, match="without a finish reason"):
        run(lambda: [sse(delta(content="4"))], {"stream": True})


def test_sensitive_is_an_answer_marked_filtered():
    c = run(lambda: [sse(delta(content="partial"), delta(finish_reason="sensitive"))], {"stream": True})
    assert c.filtered and c.finish_reason == "sensitive"


def test_vllm_reasoning_field_and_usage_only_chunk_as_a_real_server_sends_them():
    # vLLM 0.32 with --reasoning-parser qwen3 and include_usage, as recorded from a real server.
    events = sse(delta(role="assistant", content=""), delta(reasoning="let me"), delta(finish_reason="length"),
                 {"choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 4, "completion_tokens_details": {"reasoning_tokens": 2}}})
    c = run(lambda: [events], {"stream": True})
    assert (c.reasoning, c.reasoning_field, c.completion_tokens, c.reasoning_tokens) == ("let me", "reasoning", 4, 2)


def test_usage_is_not_asked_for_where_the_provider_takes_no_stream_options():
    c = run(lambda: [EVENTS], {"stream": True}, stream_usage=False)
    assert c.completion_tokens == 30
