"""The protocol layer on canned HTTP exchanges (httpx's in-process transport: no sockets)."""

import asyncio
import json

import httpx
import pytest

from harness.client import Fatal, Retryable, complete, split_reasoning


def run(handler, body):
    async def go():
        async with httpx.AsyncClient(base_url="http://test/v1/", transport=httpx.MockTransport(handler)) as client:
            return await complete(client, body, "KEY_ENV")

    return asyncio.run(go())


def sse(*chunks, done=True):
    lines = [f"data: {json.dumps(c)}\n\n" for c in chunks]
    if done:
        lines.append("data: [DONE]\n\n")
    return "".join(lines).encode()


def delta(**fields):
    finish = fields.pop("finish_reason", None)
    return {"choices": [{"index": 0, "delta": fields, "finish_reason": finish}]}


def test_stream_keeps_reasoning_apart_and_reads_usage():
    usage = {"prompt_tokens": 10, "completion_tokens": 30, "completion_tokens_details": {"reasoning_tokens": 20}}
    body = sse(delta(reasoning_content="let me "), delta(reasoning_content="think"), delta(content="The answer is "),
               delta(content="$\\boxed{4}$", finish_reason="stop"), {"choices": [], "usage": usage})
    c = run(lambda req: httpx.Response(200, content=body, headers={"content-type": "text/event-stream"}), {"stream": True})
    assert (c.content, c.reasoning, c.finish_reason) == ("The answer is $\\boxed{4}$", "let me think", "stop")
    assert (c.prompt_tokens, c.completion_tokens, c.reasoning_tokens) == (10, 30, 20)
    assert c.ttft_s is not None and c.latency_s >= c.ttft_s


def test_openrouter_reasoning_field_and_json_mode():
    data = {"choices": [{"message": {"content": "\\boxed{2}", "reasoning": "hmm"}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 3, "completion_tokens": 5}}
    c = run(lambda req: httpx.Response(200, json=data), {"stream": False})
    assert (c.content, c.reasoning, c.reasoning_tokens) == ("\\boxed{2}", "hmm", None)


def test_think_tags_are_reasoning_and_an_unclosed_think_is_no_answer():
    assert split_reasoning("<think>a\nb</think>\n\\boxed{3}", "") == ("\\boxed{3}", "a\nb")
    assert split_reasoning("<think>ran out of tok", "") == ("", "ran out of tok")
    assert split_reasoning("plain", "r") == ("plain", "r")


def test_stream_cut_before_the_end_is_retryable_never_an_answer():
    body = sse(delta(reasoning_content="half a thought"), done=False)
    with pytest.raises(Retryable, match="cut"):
        run(lambda req: httpx.Response(200, content=body), {"stream": True})


def test_429_carries_retry_after_and_5xx_is_retryable():
    with pytest.raises(Retryable) as err:
        run(lambda req: httpx.Response(429, headers={"retry-after": "7"}, json={"error": {"message": "slow down"}}), {"stream": False})
    assert err.value.retry_after == 7.0 and "slow down" in str(err.value)
    with pytest.raises(Retryable, match="HTTP 503"):
        run(lambda req: httpx.Response(503), {"stream": True})


@pytest.mark.parametrize("status,hint", [(401, "KEY_ENV"), (404, "model id"), (400, "sampling")])
def test_client_errors_are_fatal_with_a_fix(status, hint):
    with pytest.raises(Fatal, match=hint) as err:
        run(lambda req: httpx.Response(status, json={"error": {"message": "nope"}}), {"stream": False})
    assert err.value.status == status


def test_malformed_and_empty_responses_are_retryable():
    with pytest.raises(Retryable, match="malformed JSON"):
        run(lambda req: httpx.Response(200, content=b"{not json"), {"stream": False})
    with pytest.raises(Retryable, match="no choices"):
        run(lambda req: httpx.Response(200, json={"choices": []}), {"stream": False})
