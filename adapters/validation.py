"""Checks an adapter folder against the manifest and the worker's base model before vLLM ever sees it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapters.checkpoint_files import (
    ADAPTER_CONFIG,
    CheckpointError,
    adapter_weights_file,
    base_module_names,
    read_json_object,
    read_safetensors_header,
)
from adapters.manifest import ManifestEntry


@dataclass(frozen=True)
class AdapterReport:
    """The outcome for one adapter: problems (empty when it is fine) and facts worth showing."""

    name: str
    problems: list[str] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def line(self) -> str:
        """A one-line summary: `ok   name: facts` or `FAIL name: problem; problem`."""
        if self.ok:
            return f"ok   {self.name}: {', '.join(self.facts)}"
        return f"FAIL {self.name}: {'; '.join(self.problems)}"


def _same_model(recorded: str, base_path: str) -> bool:
    """Resolved local paths must be equal; otherwise compare the last path/hub-id component, case-blind."""
    left, right = Path(recorded).expanduser(), Path(base_path).expanduser()
    if left.exists() and right.exists():
        return left.resolve() == right.resolve()
    return left.name.lower() == right.name.lower()


def _check_base(entry: ManifestEntry, config: dict[str, Any], report: AdapterReport) -> None:
    recorded = config.get("base_model_name_or_path")
    if not recorded:
        report.facts.append("base not recorded")
        return
    if not _same_model(str(recorded), entry.base.path):
        report.problems.append(
            f"trained on base {recorded!r} but its workers serve {entry.base_name!r} ({entry.base.path})"
        )


def _check_rank(entry: ManifestEntry, config: dict[str, Any], report: AdapterReport) -> None:
    rank = config.get("r")
    if not isinstance(rank, int):
        report.problems.append(f"{ADAPTER_CONFIG} has no integer rank 'r'")
        return
    if rank != entry.spec.rank:
        report.problems.append(f"rank r={rank} but the cluster file says rank {entry.spec.rank}")
    if rank > entry.rank_limit:
        report.problems.append(f"rank r={rank} exceeds the worker's --max-lora-rank {entry.rank_limit}")
    alpha = config.get("lora_alpha")
    if entry.spec.alpha is not None and alpha != entry.spec.alpha:
        report.problems.append(f"lora_alpha={alpha} but the cluster file says alpha {entry.spec.alpha}")
    report.facts.append(f"r={rank}")


def _declared_targets(config: dict[str, Any]) -> list[str] | str | None:
    targets = config.get("target_modules")
    if isinstance(targets, str):
        return targets
    if isinstance(targets, list) and all(isinstance(t, str) for t in targets):
        return sorted(targets)
    return None


def _check_targets(entry: ManifestEntry, config: dict[str, Any], report: AdapterReport) -> None:
    targets = _declared_targets(config)
    if targets is None:
        report.problems.append(f"{ADAPTER_CONFIG} has no target_modules list")
        return
    found = base_module_names(Path(entry.base.path))
    if isinstance(targets, str):
        if found is not None and not any(re.fullmatch(targets, name) for name in found[0]):
            report.problems.append(f"target_modules regex {targets!r} matches no module of the base")
        return
    allowed = set(entry.spec.target_modules)
    outside = [t for t in targets if t not in allowed]
    if outside:
        report.problems.append(f"targets {outside} are not in the cluster file's target_modules {sorted(allowed)}")
    if found is None:
        report.facts.append("base modules unknown (base folder not readable here)")
    else:
        unknown = [t for t in targets if t not in found[0]]
        if unknown:
            report.problems.append(f"target modules {unknown} do not exist in the base (from {found[1]})")
    report.facts.append(f"targets={','.join(targets)}")


def _check_weights(adapter_dir: Path, config: dict[str, Any], report: AdapterReport) -> None:
    weights = adapter_weights_file(adapter_dir)
    if weights is None:
        report.problems.append(f"no adapter_model.safetensors or adapter_model.bin in {adapter_dir}")
        return
    if weights.suffix != ".safetensors":
        report.facts.append(weights.name)
        return
    header = read_safetensors_header(weights)
    lora_a = [v for k, v in header.items() if "lora_A" in k and isinstance(v, dict)]
    if not lora_a:
        report.problems.append(f"{weights.name} holds no lora_A tensors")
        return
    rank = config.get("r")
    bad = [v.get("shape") for v in lora_a if isinstance(rank, int) and (v.get("shape") or [None])[0] != rank]
    if bad:
        report.problems.append(f"{weights.name}: lora_A shapes {bad[0]} disagree with r={rank}")


def validate_adapter(entry: ManifestEntry) -> AdapterReport:
    """Every check for one adapter; never raises for a bad adapter, it reports."""
    report = AdapterReport(entry.name)
    adapter_dir = Path(entry.spec.path)
    if not adapter_dir.is_dir():
        report.problems.append(f"adapter folder {adapter_dir} does not exist")
        return report
    try:
        config = read_json_object(adapter_dir / ADAPTER_CONFIG)
        _check_weights(adapter_dir, config, report)
        _check_base(entry, config, report)
        _check_rank(entry, config, report)
        _check_targets(entry, config, report)
    except CheckpointError as exc:
        report.problems.append(str(exc))
    if entry.workers:
        report.facts.append(f"workers={','.join(w.name for w in entry.workers)}")
    return report


def validate_manifest(entries: list[ManifestEntry]) -> list[AdapterReport]:
    return [validate_adapter(entry) for entry in entries]
