"""Trained adapters shipped in the repository (adapters/trained/NAME): checked against the base, then installed."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from adapters.base_digest import model_digest
from adapters.checkpoint_files import ADAPTER_CONFIG, CheckpointError, read_json_object
from adapters.progress import Progress

SHIPPED_ROOT = Path(__file__).resolve().parent / "trained"
MARKER = ".mpr-shipped.json"
METRICS = "metrics.json"
WEIGHTS = "adapter_model.safetensors"


def shipped_dir(name: str) -> Path:
    return SHIPPED_ROOT / name


def weights_sha256(adapter_dir: Path) -> str:
    return hashlib.sha256((adapter_dir / WEIGHTS).read_bytes()).hexdigest()


def is_installed(source: Path, target: Path) -> bool:
    """True when `target` holds exactly the shipped weights (its marker names them)."""
    if not (source / WEIGHTS).is_file():
        return False
    try:
        marker = read_json_object(target / MARKER)
    except CheckpointError:
        return False
    return (target / WEIGHTS).is_file() and marker.get("weights_sha256") == weights_sha256(source)


def user_trained(target: Path) -> bool:
    """An adapter someone trained into the demo path (`mpr adapters train` writes metrics.json): keep it."""
    return (target / METRICS).is_file() and not (target / MARKER).is_file()


def base_matches(source: Path, model_dir: Path) -> tuple[bool, str]:
    """Does the base the adapter was trained on (its recorded tensor digest) equal `model_dir`'s tensors?"""
    recorded = read_json_object(source / METRICS).get("base_digest")
    actual = model_digest(model_dir)
    if recorded != actual:
        return False, f"trained on base {recorded}, but {model_dir} is {actual}"
    return True, actual


def install(source: Path, target: Path, model_dir: Path, progress: Progress) -> bool:
    """Copy the shipped adapter to `target` (pointing its config at `model_dir`); False if the base differs."""
    if is_installed(source, target) or user_trained(target):
        return True
    if not (source / METRICS).is_file() or not (source / WEIGHTS).is_file():
        progress.say(f"no shipped adapter at {source}")
        return False
    ok, detail = base_matches(source, model_dir)
    if not ok:
        progress.say(f"not installing the shipped {source.name}: {detail}")
        return False
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for name in (ADAPTER_CONFIG, WEIGHTS, METRICS):
        shutil.copy2(source / name, partial / name)
    config = read_json_object(partial / ADAPTER_CONFIG)
    config["base_model_name_or_path"] = str(model_dir)
    (partial / ADAPTER_CONFIG).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    marker = {"source": str(source), "weights_sha256": weights_sha256(source), "base_digest": detail}
    (partial / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    progress.say(f"installed the trained {source.name} (base digest matches): {target}")
    return True
