"""The cluster file's `nodes:` section: where each node is (an SSH destination) and where mpr lives on it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# ssh -o settings that would switch host key verification off; `mpr deploy` never allows them.
_UNSAFE_SSH_OPTIONS = {
    "stricthostkeychecking": {"no", "off"},
    "userknownhostsfile": {"/dev/null", "none"},
    "globalknownhostsfile": {"/dev/null", "none"},
}


class NodeConfig(BaseModel):
    """Where a node is for `mpr deploy` (an SSH destination) and where mpr lives on it.

    The user's ssh client configuration (~/.ssh/config, agent, known hosts, ProxyJump) applies on top.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    # The SSH host name (default: the node's own name, as ~/.ssh/config may resolve it).
    host: str | None = Field(None, pattern=r"^[A-Za-z0-9_.:\[\]-]+$")
    user: str | None = Field(None, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
    port: int | None = Field(None, ge=1, le=65535)
    identity_file: str | None = None
    # Extra `ssh -o Key=Value` settings (e.g. ProxyJump); none may turn host key checking off.
    ssh_options: dict[str, str] = Field(default_factory=dict)
    install_dir: str = Field("/opt/mpr-gateway", pattern=r"^/")
    # MPR_HOME on the node: `{home}` in model and adapter paths expands to it there.
    mpr_home: str = Field("/var/lib/mpr-gateway", pattern=r"^/")
    # The interpreter that creates the node's venv.
    python: str = "python3.11"
    # An engine venv already on the node (CPU workers); unset, the node builds its own (`mpr adapters toolchain`).
    engine_venv: str | None = Field(None, pattern=r"^/")
    # How services run: systemd units when the node runs systemd (auto), or supervisord under MPR_HOME.
    services: Literal["auto", "systemd", "supervisor"] = "auto"

    @model_validator(mode="after")
    def _host_keys_stay_verified(self) -> NodeConfig:
        for key, value in self.ssh_options.items():
            if value.strip().lower() in _UNSAFE_SSH_OPTIONS.get(key.lower(), set()):
                raise ValueError(f"ssh_options.{key}={value}: host keys are always verified")
            if not key.isalnum():
                raise ValueError(f"ssh_options: {key!r} is not an ssh option name")
        return self
