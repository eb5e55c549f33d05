"""Provider profiles of the simulator: one process playing one host that serves the GLM models,
differing as real hosts do (accuracy, thinking switch, usage, speed, its name in each response)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_simulator import AUTH, MATH, TEMPLATE, ask, running, sse

from harness.errors import UserError
from harness.simproc import simulator
from harness.simulator import DEFAULT_PROFILES, KeyItem, ProfileError, SimOptions, load_profiles, make_app
from harness.simulator.answers import Responder
from harness.simulator.calibration import MAX_P, Calibrator
from harness.simulator.key import AnswerKey
from harness.simulator.protocol import canonical_json, parse_chat_request

PROFILES = load_profiles(DEFAULT_PROFILES)
SHIPPED = ["faithful", "fp8", "int4", "ignores-thinking", "no-usage", "slow", "lenient-checker", "router"]
# A real-size key: 500 questions of one task, plus a task the profiles do not list (its default).
KEY = [KeyItem("aime24" if i < 400 else "my_task", f"Question {i}: how many tilings does board number {i} admit?",
               str(100 + i), "math") for i in range(500)]


def mean_p(calibrator: Calibrator, variant: str, task: str, thinking: bool) -> float:
    items = [i for i, item in enumerate(KEY) if item.task == task]
    return sum(calibrator.p_correct(variant, i, thinking) for i in items) / len(items)


def request(question: str, **fields: Any) -> dict[str, Any]:
    return {"model": "glm-4.5", "messages": [{"role": "user", "content": TEMPLATE.format(q=question)}], **fields}


# -- the profiles file -------------------------------------------------------------------------


def test_shipped_provider_profiles() -> None:
    assert list(PROFILES.providers) == SHIPPED
    hosts = PROFILES.providers
    assert {name: h.served_by for name, h in hosts.items()} == {
        "faithful": "FaithfulHost", "fp8": "Fp8Host", "int4": "Int4Host", "ignores-thinking": "StubbornHost",
        "no-usage": "QuietHost", "slow": "SlowHost", "lenient-checker": "LenientHost",
        "router": None}
    assert hosts["router"].routes == ["faithful", "fp8", "int4"]
    assert (hosts["fp8"].accuracy_shift, hosts["int4"].accuracy_shift) == (-5, -10)
    assert (hosts["fp8"].quantization, hosts["int4"].quantization, hosts["faithful"].quantization) == ("fp8", "int4", "bf16")
    assert hosts["ignores-thinking"].thinking == "ignored" and hosts["no-usage"].usage == "dropped"
    assert hosts["slow"].speed == 0.4
    faithful = hosts["faithful"]
    assert (faithful.accuracy_shift, faithful.thinking, faithful.usage, faithful.speed) == (0, "honoured", "sent", 1)
    text = DEFAULT_PROFILES.read_text()
    assert "NOT measurements" in text[text.index("# Provider profiles"):text.index("\nproviders:")]  # their own header


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (("    speed: 0.4", "    sped: 0.4"), ["providers.slow.sped: unknown field; allowed:", "accuracy_shift", "served_by", "speed"]),
        (("    speed: 0.4", "    speed: 0"), ["providers.slow.speed", "greater than 0"]),
        (("    thinking: ignored", "    thinking: off"), ["providers.ignores-thinking.thinking", "'honoured' or 'ignored'"]),
        (("    usage: dropped", "    usage: none"), ["providers.no-usage.usage", "'sent' or 'dropped'"]),
        (("    description: sends no token usage, in whole answers or streams\n", ""), ["providers.no-usage.description", "required"]),
        (("routes: [faithful, fp8, int4]", "routes: [faithful, fp16]"), ["providers.router.routes: 'fp16' is not a host profile"]),
        (("routes: [faithful, fp8, int4]", "routes: [faithful, router]"), ["providers.router.routes: 'router' is not a host profile"]),
    ],
)
def test_provider_profile_typos_are_refused_by_name(tmp_path: Path, edit: tuple[str, str], expected: list[str]) -> None:
    path = tmp_path / "profiles.yaml"
    text = DEFAULT_PROFILES.read_text()
    assert edit[0] in text
    path.write_text(text.replace(*edit, 1))
    with pytest.raises(ProfileError) as caught:
        load_profiles(path)
    for part in expected:
        assert part in str(caught.value)


def test_a_profiles_file_without_providers_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "profiles.yaml"
    path.write_text(DEFAULT_PROFILES.read_text().split("\nproviders:")[0])
    profiles = load_profiles(path)
    assert profiles.providers == {}
    with pytest.raises(ProfileError, match="unknown provider profile 'fp8'; known: none"):
        profiles.provider("fp8")


# -- accuracy ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["faithful", "fp8", "int4"])
def test_accuracy_shift_moves_the_mean_probability_by_its_points(name: str) -> None:
    shift = PROFILES.providers[name].accuracy_shift
    plain, host = Calibrator(PROFILES, AnswerKey(KEY)), Calibrator(PROFILES, AnswerKey(KEY), shift)
    for variant in PROFILES.variants:
        for task in ("aime24", "my_task"):
            for thinking in (True, False):
                moved = 100 * (mean_p(host, variant, task, thinking) - mean_p(plain, variant, task, thinking))
                assert moved == pytest.approx(shift, abs=0.5), (variant, task, thinking)


def test_accuracy_shift_is_clamped_to_a_probability() -> None:
    key = AnswerKey(KEY)
    low = Calibrator(PROFILES, key, -100)
    assert low.target("glm-4.5", "aime24", True) == 0.0 and mean_p(low, "glm-4.5", "aime24", True) < 0.001
    high = Calibrator(PROFILES, key, 50)
    assert mean_p(high, "glm-4.5", "aime24", True) == pytest.approx(MAX_P)
    assert all(0 < high.p_correct("glm-4.5", i, True) < 1 for i in range(400))


def test_a_quantized_host_answers_fewer_items_correctly() -> None:
    """The shift reaches the answers: int4 (-10 points) against faithful, 400 aime24 items each."""

    def accuracy(name: str) -> float:
        responder = Responder(PROFILES, AnswerKey(KEY), name)
        plans = [responder.plan(parse_chat_request(request(item.question)), 0.0) for item in KEY[:400]]
        return sum(bool(p.correct) for p in plans) / len(plans)

    faithful, int4 = accuracy("faithful"), accuracy("int4")
    assert faithful == pytest.approx(0.910, abs=0.04)
    assert 0.05 <= faithful - int4 <= 0.15


# -- independent draws -------------------------------------------------------------------------


def test_hosts_draw_independently_given_the_item_difficulty() -> None:
    """Two hosts without a shift disagree on as many items as independent coins with the same
    per-item p would: neither always (one shared draw) nor never."""
    key = AnswerKey(KEY)
    no_answer = PROFILES.variants["glm-4.5"].no_answer_rate
    q = [Calibrator(PROFILES, key).p_correct("glm-4.5", i, False) * (1 - no_answer) for i in range(400)]
    expected = sum(2 * p * (1 - p) for p in q)
    sd = math.sqrt(sum(2 * p * (1 - p) * (1 - 2 * p * (1 - p)) for p in q))
    outcomes = {}
    for name in (None, "faithful", "no-usage"):
        responder = Responder(PROFILES, key, name)
        outcomes[name] = [responder.plan(parse_chat_request(request(item.question, thinking={"type": "disabled"})), 0.0).correct
                          for item in KEY[:400]]
    for a, b in ((None, "faithful"), ("faithful", "no-usage")):
        disagree = sum(x != y for x, y in zip(outcomes[a], outcomes[b]))
        assert abs(disagree - expected) < 4 * sd, (a, b, disagree, expected)


def test_without_a_profile_the_seed_is_what_it_always_was() -> None:
    body = request(MATH.question, seed=7, temperature=0.6, top_p=0.95, max_tokens=900)
    chat = parse_chat_request(body)
    fields = {"model": "glm-4.5", "messages": body["messages"], "seed": 7, "temperature": 0.6, "top_p": 0.95, "max_tokens": 900}
    assert chat.answer_seed() == chat.answer_seed(None) == hashlib.sha256(canonical_json(fields)).digest()
    seeds = {chat.answer_seed(name) for name in (None, *SHIPPED)}
    assert len(seeds) == 1 + len(SHIPPED)


# -- over HTTP ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hosts")


@pytest.fixture(scope="module")
def hosts(log_dir: Path) -> Iterator[dict[str | None, str]]:
    """A server per shipped profile, and a plain one (None), answering at once."""
    with contextlib.ExitStack() as stack:
        yield {name: stack.enter_context(running(SimOptions(time_scale=0, provider_profile=name,
                                                            request_log=log_dir / f"{name or 'plain'}.jsonl"), [MATH]))
               for name in (None, *SHIPPED)}


def post(base: str, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(f"{base}/v1/chat/completions", json=body, headers=AUTH, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def stream(base: str, body: dict[str, Any]) -> list[Any]:
    with httpx.Client(base_url=base, headers=AUTH, timeout=10) as c:
        return sse(c, body)


def test_served_by_is_the_top_level_provider_of_every_body_and_chunk(hosts: dict[str | None, str]) -> None:
    body = post(hosts["faithful"], ask())
    assert body["provider"] == "FaithfulHost" and body["choices"][0]["message"]["content"]
    events = stream(hosts["faithful"], ask(stream_options={"include_usage": True}))
    chunks = events[:-1]
    assert events[-1] == "[DONE]" and len(chunks) > 3
    assert all(c["provider"] == "FaithfulHost" for c in chunks)
    assert chunks[-1]["choices"] == [] and "usage" in chunks[-1]  # the include_usage chunk too
    assert post(hosts["slow"], ask())["provider"] == "SlowHost"
    assert "provider" not in post(hosts[None], ask())
    assert all("provider" not in c for c in stream(hosts[None], ask())[:-1])


def test_a_host_that_ignores_the_thinking_switch(hosts: dict[str | None, str]) -> None:
    off = post(hosts["ignores-thinking"], ask(thinking={"type": "disabled"}))
    on = post(hosts["ignores-thinking"], ask())
    message = off["choices"][0]["message"]
    assert message["reasoning_content"] and off["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0
    # The draw does not depend on the switch, so "off" is the thinking-on answer, word for word.
    cache = off["usage"].pop("prompt_tokens_details"), on["usage"].pop("prompt_tokens_details")
    assert message == on["choices"][0]["message"] and off["usage"] == on["usage"]
    assert cache[1]["cached_tokens"] >= cache[0]["cached_tokens"], "the same prompt again reads the prompt cache"
    events = stream(hosts["ignores-thinking"], ask(chat_template_kwargs={"enable_thinking": False}))
    assert any("reasoning_content" in c["choices"][0]["delta"] for c in events[:-1] if c["choices"])
    # A host that honours it sends none.
    honoured = post(hosts["faithful"], ask(thinking={"type": "disabled"}))
    assert "reasoning_content" not in honoured["choices"][0]["message"]


def test_a_host_that_sends_no_usage(hosts: dict[str | None, str]) -> None:
    body = post(hosts["no-usage"], ask())
    assert "usage" not in body and body["choices"][0]["finish_reason"] == "stop"
    events = stream(hosts["no-usage"], ask(stream_options={"include_usage": True}))
    assert events[-1] == "[DONE]"
    assert all("usage" not in c for c in events[:-1])
    assert any(c["choices"] and c["choices"][0]["finish_reason"] == "stop" for c in events[:-1])
    assert "usage" in post(hosts["faithful"], ask())


def test_hosts_answer_the_same_request_differently(hosts: dict[str | None, str]) -> None:
    body = ask(seed=5)
    answers = {name: post(hosts[name], body)["choices"][0]["message"] for name in (None, "faithful", "no-usage")}
    assert answers["faithful"]["reasoning_content"] != answers["no-usage"]["reasoning_content"]
    assert answers[None]["reasoning_content"] not in (answers["faithful"]["reasoning_content"],
                                                      answers["no-usage"]["reasoning_content"])
    assert post(hosts["faithful"], body)["choices"][0]["message"] == answers["faithful"]  # each host is deterministic
    # The plain server answers as the simulator without a profile always has.
    plan = Responder(PROFILES, AnswerKey([MATH])).plan(parse_chat_request(body), 0.0)
    assert answers[None]["reasoning_content"] == "".join(plan.reasoning)


def test_models_and_log_name_the_profile(hosts: dict[str | None, str], log_dir: Path) -> None:
    listed = httpx.get(f"{hosts['fp8']}/v1/models", headers=AUTH).json()
    assert listed["glm_eval_provider_profile"] == "fp8" and listed["glm_eval_simulator"] is True
    assert "glm_eval_provider_profile" not in httpx.get(f"{hosts[None]}/v1/models", headers=AUTH).json()
    post(hosts["fp8"], ask(seed=31))
    post(hosts[None], ask(seed=31))
    entries = [json.loads(line) for line in (log_dir / "fp8.jsonl").read_text().splitlines()]
    assert entries and all(e["provider_profile"] == "fp8" for e in entries)
    plain = [json.loads(line) for line in (log_dir / "plain.jsonl").read_text().splitlines()]
    assert plain and all("provider_profile" not in e for e in plain)


def test_a_slow_host_starts_later_and_streams_slower() -> None:
    def first_token_s(name: str) -> float:
        with running(SimOptions(time_scale=0.2, provider_profile=name), [MATH]) as url, \
                httpx.Client(base_url=url, headers=AUTH, timeout=10) as c:
            waits = []
            for seed in range(4):
                started = time.perf_counter()
                with c.stream("POST", "/v1/chat/completions", json=ask(seed=seed, max_tokens=4, stream=True)) as r:
                    next(r.iter_lines())
                waits.append(time.perf_counter() - started)
        return sum(waits) / len(waits)

    faithful, slow = first_token_s("faithful"), first_token_s("slow")
    # glm-4.5's ttft is 1.2 s: about 240 ms at this scale, and 600 ms on a host 0.4 times as fast
    # (the exact figures are checked on the plans below, with no clock). Waits only lengthen on a
    # busy machine, so the bounds are the lower ones, with room for scheduling noise in the ratio.
    assert faithful > 0.12 and slow > 1.5 * faithful

    # Exactly: per token, 1/0.4 of the time; the first token, 2.5 times later on average.
    def plans(name: str) -> list[Any]:
        responder = Responder(PROFILES, AnswerKey([MATH]), name)
        return [responder.plan(parse_chat_request(ask(seed=seed)), 1.0) for seed in range(300)]

    fast_plans, slow_plans = plans("faithful"), plans("slow")
    assert slow_plans[0].token_interval_s == pytest.approx(fast_plans[0].token_interval_s / 0.4)
    ratio = sum(p.ttft_s for p in slow_plans) / sum(p.ttft_s for p in fast_plans)
    assert ratio == pytest.approx(2.5, rel=0.1)


# -- choosing a profile ------------------------------------------------------------------------


def test_an_unknown_profile_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ProfileError) as caught:
        make_app(SimOptions(provider_profile="fp16"), [MATH])
    message = str(caught.value)
    assert "unknown provider profile 'fp16'" in message
    assert all(name in message for name in SHIPPED)
    # Through `glm-eval sim --provider-profile`, as a run starts it: the child's one-line error.
    with pytest.raises(UserError) as caught_cli:
        with simulator([MATH], None, 0.0, "sim-key", provider_profile="fp16"):
            pass
    assert "unknown provider profile 'fp16'; known: faithful, fp8, int4" in str(caught_cli.value)


def test_glm_eval_sim_plays_the_named_profile() -> None:
    with simulator([MATH], None, 0.0, "sim-key", provider_profile="int4") as url:
        listed = httpx.get(f"{url}/models", headers=AUTH).json()
        body = httpx.post(f"{url}/chat/completions", json=ask(), headers=AUTH, timeout=10).json()
    assert listed["glm_eval_provider_profile"] == "int4" and body["provider"] == "Int4Host"
