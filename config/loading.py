"""Reads a cluster file: YAML, MPR_ environment overrides, validation, prompt files and API keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import AnyHttpUrl, SecretStr, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from config.cluster import AuthConfig, Cluster, OpenAITargetConfig, StageConfig, TargetConfig, WorkerConfig
from config.environment import MprEnvironment, proxy_for, read_env_var

# The embedded one-machine default (`mpr up`), shipped inside this package.
LOCAL_CLUSTER = Path(__file__).resolve().parent / "local.yaml"


class ConfigError(Exception):
    """A cluster file that cannot be used; the message names the file and the offending path."""


class _ClusterSettings(BaseSettings, Cluster):
    """The cluster model with `MPR_SECTION__KEY=value` environment overrides taking precedence over the file."""

    model_config = SettingsConfigDict(
        env_prefix="MPR_", env_nested_delimiter="__", extra="forbid", frozen=True, env_ignore_empty=True
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (env_settings, init_settings)


def _format_errors(source: Path, error: ValidationError) -> str:
    lines = [f"{source}: invalid cluster file"]
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "(top level)"
        lines.append(f"  {where}: {item['msg']}")
    return "\n".join(lines)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read cluster file: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the cluster file must be a mapping at the top level")
    return raw


def _resolve_stage(name: str, stage: StageConfig, base_dir: Path, env: MprEnvironment) -> StageConfig:
    if stage.prompt_file is None:
        return stage
    prompt_path = Path(env.expand(stage.prompt_file))
    if not prompt_path.is_absolute():
        prompt_path = base_dir / prompt_path
    try:
        text = prompt_path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"stages.{name}.prompt_file: cannot read {prompt_path}: {exc.strerror}") from exc
    if not text:
        raise ConfigError(f"stages.{name}.prompt_file: {prompt_path} is empty")
    return stage.model_copy(update={"system_prompt": text, "prompt_file": None})


_Keyed = TypeVar("_Keyed", WorkerConfig, TargetConfig)


def _with_api_key(where: str, item: _Keyed, require_secrets: bool) -> _Keyed:
    """Fill `api_key` from the variable named by `api_key_env` (workers and targets alike)."""
    if item.api_key_env is None:
        return item
    value = read_env_var(item.api_key_env)
    if not value:
        if not require_secrets:
            return item
        raise ConfigError(f"{where}.api_key_env: environment variable {item.api_key_env} is not set")
    return item.model_copy(update={"api_key": SecretStr(value)})


def _with_proxy(where: str, target: TargetConfig) -> TargetConfig:
    """An openai target's proxy from the standard variables, read once here rather than on every request."""
    if not isinstance(target, OpenAITargetConfig) or target.proxy is not None or target.direct:
        return target
    proxy = proxy_for(str(target.base_url))
    if not proxy:
        return target
    try:
        url = AnyHttpUrl(proxy)
    except ValidationError as exc:
        raise ConfigError(f"{where}: the proxy {proxy!r} from the environment is not an http(s) URL") from exc
    return target.model_copy(update={"proxy": url})


def _resolve_auth(auth: AuthConfig) -> AuthConfig:
    """Add the client keys named by `auth.keys_env` (comma-separated) to those in the file."""
    value = read_env_var(auth.keys_env) if auth.keys_env else None
    extra = [SecretStr(k.strip()) for k in (value or "").split(",") if k.strip()]
    return auth.model_copy(update={"keys": [*auth.keys, *extra]}) if extra else auth


def _expand_paths(cluster: Cluster, env: MprEnvironment) -> dict[str, Any]:
    models = {k: m.model_copy(update={"path": env.expand(m.path)}) for k, m in cluster.models.items()}
    adapters = {k: a.model_copy(update={"path": env.expand(a.path)}) for k, a in cluster.adapters.items()}
    paths: dict[str, Any] = {"models": models, "adapters": adapters}
    if cluster.knowledge is not None:
        paths["knowledge"] = cluster.knowledge.model_copy(update={"index": env.expand(cluster.knowledge.index)})
    return paths


def load_cluster(path: str | Path, env: MprEnvironment | None = None, *, require_secrets: bool = True) -> Cluster:
    """Load and validate a cluster file; raise ConfigError with a readable message on any problem.

    With `require_secrets=False` an unset `api_key_env` variable leaves that worker's `api_key` None instead
    of failing (for commands that only describe or check the cluster: plans, validation, unit files).
    """
    source = Path(path)
    env = env or MprEnvironment()
    raw = _read_yaml(source)
    try:
        cluster: Cluster = _ClusterSettings(**raw)
    except ValidationError as exc:
        raise ConfigError(_format_errors(source, exc)) from exc
    base_dir = source.resolve().parent
    stages = {n: _resolve_stage(n, s, base_dir, env) for n, s in cluster.stages.items()}
    workers = [_with_api_key(f"workers[{i}]", w, require_secrets) for i, w in enumerate(cluster.workers)]
    targets = {
        n: _with_proxy(f"targets.{n}", _with_api_key(f"targets.{n}", t, require_secrets))
        for n, t in cluster.targets.items()
    }
    update: dict[str, Any] = {"stages": stages, "workers": workers, "targets": targets, **_expand_paths(cluster, env)}
    update["auth"] = _resolve_auth(cluster.auth)
    # Re-validate as the plain model so callers never see the settings subclass.
    try:
        return Cluster.model_validate({**cluster.model_dump(), **update})
    except ValidationError as exc:
        raise ConfigError(_format_errors(source, exc)) from exc
