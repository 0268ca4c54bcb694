"""The shipped trained adapters: valid, matching the local config; base-digest check on install; training rows."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from adapters.base_digest import model_digest
from adapters.cleaner_data import DataSpec, generate
from adapters.demo import DEMO_ADAPTERS
from adapters.jsonl_examples import jsonl_text, text_sha256
from adapters.manifest import read_manifest
from adapters.progress import Progress
from adapters.shipped import MARKER, install, is_installed, shipped_dir, user_trained
from adapters.training import (
    DEFAULT_CLUSTER,
    TrainOptions,
    metrics_table,
    render_rows,
    reproduce_command,
    stage_system_prompt,
    trainer_argv,
)
from adapters.validation import validate_manifest
from config.environment import MprEnvironment
from config.loading import load_cluster
from config.stage_messages import render_stage_messages
from tests.adapters.test_validate import cluster_for, make_base, write_safetensors

SHIPPED = shipped_dir("demo-cleaner")


def shipped_copy(root: Path, base: Path, name: str = "demo-cleaner") -> Path:
    """The shipped adapter copied under `root`, its config pointing at `base` (what `install` does)."""
    target = root / name
    shutil.copytree(shipped_dir(name), target)
    config = json.loads((target / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = str(base)
    (target / "adapter_config.json").write_text(json.dumps(config))
    return target


@pytest.mark.parametrize("name", ["demo-cleaner", "demo-describer"])
def test_shipped_adapter_passes_validate_and_matches_the_local_config(tmp_path: Path, name: str) -> None:
    base = make_base(tmp_path)
    report = validate_manifest(read_manifest(cluster_for(base, {name: shipped_copy(tmp_path, base, name)})))[0]
    assert report.ok, report.line()
    config = json.loads((shipped_dir(name) / "adapter_config.json").read_text())
    local = load_cluster(DEFAULT_CLUSTER, MprEnvironment(), require_secrets=False).adapters[name]
    recipe = next(r for r in DEMO_ADAPTERS if r.name == name)
    assert recipe.shipped == name
    assert config["r"] == local.rank == recipe.rank
    assert sorted(config["target_modules"]) == sorted(local.target_modules) == sorted(recipe.targets)
    assert config["lora_alpha"] == recipe.alpha
    assert (shipped_dir(name) / "adapter_model.safetensors").stat().st_size < 4_000_000


def test_shipped_metrics_record_base_command_and_improvement() -> None:
    metrics = json.loads((SHIPPED / "metrics.json").read_text())
    assert metrics["base_digest"].startswith("sha256:")
    assert metrics["command"].startswith("mpr adapters train --role cleaner")
    # On the template-disjoint held-out split (no template, name or topic seen in training) the 320-example
    # adapter fixes 29% of noisy prompts exactly, from 0% for the base, and changes 1 clean prompt in 15.
    assert metrics["after"]["exact_fix_rate"] > metrics["before"]["exact_fix_rate"] + 0.2
    assert metrics["after"]["changed_rate"] <= 0.2
    assert metrics["data"].startswith("935 train / 160 heldout"), "trained on the template-disjoint split"
    # ... exactly the data this checkout generates: a change of the generator or split needs a retrained adapter.
    assert metrics["data_sha256"] == text_sha256(jsonl_text(generate(DataSpec())))
    assert "before (base)" in metrics_table(metrics)


def fake_model(root: Path, fill: int) -> Path:
    model = root / f"model-{fill}"
    model.mkdir()
    write_safetensors(model / "model.safetensors", {"w": [2, 2]})
    raw = bytearray((model / "model.safetensors").read_bytes())
    raw[-1] = fill
    (model / "model.safetensors").write_bytes(bytes(raw))
    return model


def fake_shipped(root: Path, base: Path) -> Path:
    source = root / "shipped"
    source.mkdir()
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        shutil.copy2(SHIPPED / name, source / name)
    (source / "metrics.json").write_text(json.dumps({"base_digest": model_digest(base)}))
    return source


def test_base_digest_follows_tensor_bytes_only(tmp_path: Path) -> None:
    one, two = fake_model(tmp_path, 1), fake_model(tmp_path, 2)
    assert model_digest(one) == model_digest(one)
    assert model_digest(one) != model_digest(two)


def test_install_checks_the_base_and_marks_the_copy(tmp_path: Path) -> None:
    base, other = fake_model(tmp_path, 1), fake_model(tmp_path, 2)
    source = fake_shipped(tmp_path, base)
    target = tmp_path / "demo" / "demo-cleaner"
    assert not install(source, target, other, Progress()), "a different base must not get the adapter"
    assert not target.exists()
    assert install(source, target, base, Progress())
    assert is_installed(source, target)
    assert json.loads((target / "adapter_config.json").read_text())["base_model_name_or_path"] == str(base)
    assert (target / MARKER).is_file()


def test_install_replaces_a_seeded_adapter_but_keeps_a_user_trained_one(tmp_path: Path) -> None:
    base = fake_model(tmp_path, 1)
    source = fake_shipped(tmp_path, base)
    target = tmp_path / "demo-cleaner"
    target.mkdir()
    (target / "adapter_config.json").write_text("{}")  # a seeded random adapter of an earlier demo build
    assert install(source, target, base, Progress())
    assert is_installed(source, target)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "metrics.json").write_text("{}")  # trained here with `mpr adapters train`
    assert user_trained(mine)
    assert install(source, mine, base, Progress())
    assert not is_installed(source, mine)


def test_training_rows_are_the_gateways_stage_messages(tmp_path: Path) -> None:
    examples = [e for e in generate(DataSpec(prompts=50)) if e.split == "train"][:5]
    system_prompt = stage_system_prompt(DEFAULT_CLUSTER, "cleaner", MprEnvironment())
    cluster = load_cluster(DEFAULT_CLUSTER, MprEnvironment(), require_secrets=False)
    assert system_prompt == cluster.stages["cleaner"].system_prompt
    for example, row in zip(examples, render_rows(examples, system_prompt), strict=True):
        assert row["messages"] == render_stage_messages(system_prompt, example.noisy)
        assert row["target"] == example.clean
    options = TrainOptions(role="cleaner", base=tmp_path / "base", out=tmp_path / "out")
    argv = trainer_argv(Path("/venv/bin/python"), options, tmp_path / "t.jsonl", tmp_path / "h.jsonl")
    assert argv[2].endswith("adapters/train_lora.py")
    assert argv[argv.index("--train") + 1] == str(tmp_path / "t.jsonl")
    assert "--targets" in argv and argv[argv.index("--targets") + 1] == "q_proj,v_proj"
    assert reproduce_command(options).startswith("mpr adapters train --role cleaner")


@pytest.mark.parametrize("forbidden", ["<prompt>", "apply_chat_template([{"])
def test_trainer_script_does_not_render_prompts_itself(forbidden: str) -> None:
    script = (Path(__file__).resolve().parents[2] / "adapters" / "train_lora.py").read_text()
    assert forbidden not in script
