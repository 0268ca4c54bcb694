"""The `targets` section of the cluster file: both kinds, their keys from the environment, name clashes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from config import ConfigError, LitellmTargetConfig, MprEnvironment, OpenAITargetConfig, load_cluster

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"


def write(tmp_path: Path, targets: dict[str, Any], refine_model: str = "mpr-refine") -> Path:
    data = yaml.safe_load((CONFIG_DIR / "local.yaml").read_text())
    data["targets"] = targets
    data["gateway"]["refine_model"] = refine_model
    (tmp_path / "prompts").mkdir(exist_ok=True)
    for stage in data["stages"].values():
        (tmp_path / stage["prompt_file"]).write_text("Do it.")
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_local_file_answers_with_its_worker_base_model(tmp_path: Path) -> None:
    cluster = load_cluster(CONFIG_DIR / "local.yaml", MprEnvironment(home=tmp_path))
    target = cluster.targets["smollm2-135m"]
    assert isinstance(target, OpenAITargetConfig)
    assert str(target.base_url) == str(cluster.workers[0].url)
    assert target.model == cluster.workers[0].base


def test_both_kinds_and_keys_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_TARGET_KEY", "sk-target")
    targets = {
        "big": {"kind": "openai", "base_url": "http://h:1/v1", "model": "m", "api_key_env": "TEST_TARGET_KEY"},
        "other": {"kind": "litellm", "model": "anthropic/claude", "api_key_env": "TEST_TARGET_KEY"},
    }
    cluster = load_cluster(write(tmp_path, targets))
    big, other = cluster.targets["big"], cluster.targets["other"]
    assert isinstance(big, OpenAITargetConfig) and isinstance(other, LitellmTargetConfig)
    assert big.api_key is not None and big.api_key.get_secret_value() == "sk-target"
    assert other.api_key is not None and other.api_key.get_secret_value() == "sk-target"
    assert big.max_tokens_param == "max_completion_tokens" and big.timeout_s == 120.0


def test_missing_key_variable_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_TARGET_KEY", raising=False)
    targets = {"big": {"kind": "openai", "base_url": "http://h:1/v1", "model": "m", "api_key_env": "TEST_TARGET_KEY"}}
    with pytest.raises(ConfigError, match=r"targets\.big\.api_key_env: environment variable TEST_TARGET_KEY"):
        load_cluster(write(tmp_path, targets))
    assert load_cluster(write(tmp_path, targets), require_secrets=False).targets["big"].api_key is None


@pytest.mark.parametrize(
    ("target", "problem"),
    [
        ({"base_url": "http://h:1/v1", "model": "m"}, "Unable to extract tag using discriminator"),
        ({"kind": "grpc", "model": "m"}, "does not match any of the expected tags"),
        ({"kind": "openai", "base_url": "http://h:1/v1", "model": "m", "modle": 1}, r"targets\.t\.openai\.modle"),
    ],
)
def test_bad_targets_are_reported(tmp_path: Path, target: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        load_cluster(write(tmp_path, {"t": target}))


def test_a_target_may_not_take_the_refine_models_name(tmp_path: Path) -> None:
    targets = {"mpr-refine": {"kind": "openai", "base_url": "http://h:1/v1", "model": "m"}}
    with pytest.raises(ConfigError, match="the name is the refine model's"):
        load_cluster(write(tmp_path, targets))


def test_proxy_comes_from_the_file_or_the_standard_variables_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://corp-proxy:3128")
    monkeypatch.setenv("NO_PROXY", "localhost,.internal")
    targets = {
        "cloud": {"kind": "openai", "base_url": "https://api.example.com/v1", "model": "m"},
        "inside": {"kind": "openai", "base_url": "https://llm.internal/v1", "model": "m"},
        "plain": {"kind": "openai", "base_url": "http://h:1/v1", "model": "m"},
        "pinned": {"kind": "openai", "base_url": "http://h:1/v1", "model": "m", "proxy": "http://other:8080"},
        "direct": {"kind": "openai", "base_url": "https://api.example.com/v1", "model": "m", "direct": True},
    }
    cluster = load_cluster(write(tmp_path, targets), MprEnvironment(home=tmp_path))
    proxies = {}
    for name, target in cluster.targets.items():
        assert isinstance(target, OpenAITargetConfig)
        proxies[name] = str(target.proxy) if target.proxy else None
    assert proxies == {
        "cloud": "http://corp-proxy:3128/",
        "inside": None,  # NO_PROXY
        "plain": None,  # only HTTPS_PROXY is set
        "pinned": "http://other:8080/",
        "direct": None,
    }


def test_a_proxy_variable_that_is_not_a_url_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "not a url")
    targets = {"cloud": {"kind": "openai", "base_url": "https://api.example.com/v1", "model": "m"}}
    with pytest.raises(ConfigError, match=r"targets.cloud: the proxy 'not a url' from the environment"):
        load_cluster(write(tmp_path, targets), MprEnvironment(home=tmp_path))
