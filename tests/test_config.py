from pathlib import Path

import pytest

from harness.config import ProvidersFile, load, load_models, load_providers, validate
from harness.errors import UserError
from harness.providers import GENERIC, Sampling, resolve_provider
from harness.runspec import RunSpec, load_suite


def test_shipped_configs_are_valid():
    providers = load_providers()
    assert {"zai", "bigmodel", "cometapi", "openrouter", "local", "simulated"} <= set(providers)
    assert providers["zai"].base_url == "https://api.z.ai/api/paas/v4"
    assert providers["bigmodel"].base_url == "https://open.bigmodel.cn/api/paas/v4"
    assert providers["cometapi"].base_url == "https://api.cometapi.com/v1"
    models = load_models()
    assert list(models) == ["glm-4.5", "glm-4.5-air", "glm-4.5-x", "glm-4.5-airx", "glm-4.5-flash"]


def test_a_typo_names_file_field_and_allowed(tmp_path: Path):
    bad = tmp_path / "providers.yaml"
    bad.write_text("providers:\n  zai:\n    base_url: https://x\n    api_key_env: K\n    thinkng: zai\n")
    with pytest.raises(UserError) as err:
        load(bad, ProvidersFile)
    message = str(err.value)
    assert str(bad) in message and "providers.zai.thinkng" in message and "thinking" in message


def test_a_wrong_value_names_the_field(tmp_path: Path):
    bad = tmp_path / "providers.yaml"
    bad.write_text("providers:\n  zai:\n    base_url: https://x\n    api_key_env: K\n    thinking: sometimes\n")
    with pytest.raises(UserError, match=r"providers\.zai\.thinking: .*'zai', 'vllm', 'openrouter' or 'none'"):
        load(bad, ProvidersFile)


def test_malformed_yaml_names_line(tmp_path: Path):
    bad = tmp_path / "suite.yaml"
    bad.write_text("models: [glm-4.5\ntasks: math500\n")
    with pytest.raises(UserError, match=r"suite\.yaml: line \d+.*malformed YAML"):
        load_suite(bad)


def test_thinking_switch_per_provider_dialect():
    messages = [{"role": "user", "content": "hi"}]
    off = Sampling(thinking=False)
    assert resolve_provider("zai").body("glm-4.5", messages, off, 1)["thinking"] == {"type": "disabled"}
    assert resolve_provider("local").body("m", messages, off, 1)["chat_template_kwargs"] == {"enable_thinking": False}
    assert resolve_provider("openrouter").body("m", messages, off, 1)["reasoning"] == {"enabled": False}
    zai = resolve_provider("zai").body("glm-4.5", messages, Sampling(), 7)
    assert zai["thinking"] == {"type": "enabled"} and "seed" not in zai  # Z.ai documents no seed
    assert resolve_provider("local").body("m", messages, Sampling(), 7)["seed"] == 7


def test_generic_server_sends_model_names_as_given():
    provider = resolve_provider(None, base_url="http://127.0.0.1:9/v1")
    assert provider.name == GENERIC
    assert provider.model_id("my-local-glm", load_models()) == "my-local-glm"


def test_unknown_model_and_provider_say_what_is_known():
    with pytest.raises(UserError, match="unknown provider 'zia'.*zai"):
        resolve_provider("zia")
    with pytest.raises(UserError, match="unknown model 'glm-5'.*glm-4.5-air"):
        resolve_provider("zai").model_id("glm-5", load_models())
    with pytest.raises(UserError, match="openrouter does not offer glm-4.5-x"):
        resolve_provider("openrouter").model_id("glm-4.5-x", load_models())


def test_missing_key_names_the_variable(monkeypatch):
    monkeypatch.delenv("ZAI_API_KEY", raising=False)
    with pytest.raises(UserError, match="ZAI_API_KEY is not set"):
        resolve_provider("zai").api_key()


def test_run_spec_defaults_follow_published_protocol_and_range_checks():
    spec = validate({"provider": "zai", "models": "glm-4.5,glm-4.5-air", "tasks": "math500"}, RunSpec, "command line")
    assert spec.models == ["glm-4.5", "glm-4.5-air"]
    assert (spec.temperature, spec.top_p, spec.thinking) == (0.6, 0.95, True)
    with pytest.raises(UserError, match="command line: top_p: "):
        validate({"provider": "zai", "models": "glm-4.5", "tasks": "math500", "top_p": 1.5}, RunSpec, "command line")
    with pytest.raises(UserError, match="--provider NAME"):
        validate({"models": "glm-4.5", "tasks": "math500"}, RunSpec, "command line")
