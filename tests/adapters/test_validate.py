"""`adapters validate`: fake adapter folders (adapter_config.json + hand-written safetensors) good and bad."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest

from adapters.checkpoint_files import base_module_names, read_safetensors_header
from adapters.manifest import ManifestError, read_manifest
from adapters.validation import AdapterReport, validate_manifest
from config.cluster import Cluster

LLAMA_TENSORS = [f"model.layers.0.{part}.weight" for part in (
    "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
    "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj", "input_layernorm")] + ["model.embed_tokens.weight"]  # fmt: skip


def write_safetensors(path: Path, tensors: dict[str, list[int]]) -> None:
    """A valid safetensors file of zeros: 8-byte little-endian header length, JSON header, data."""
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, shape in tensors.items():
        size = 4
        for dim in shape:
            size *= dim
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * offset)


def make_base(root: Path, tensors: list[str] | None = None) -> Path:
    base = root / "base-model"
    base.mkdir(parents=True)
    (base / "config.json").write_text(json.dumps({"model_type": "llama", "architectures": ["LlamaForCausalLM"]}))
    write_safetensors(base / "model.safetensors", {name: [2, 2] for name in tensors or LLAMA_TENSORS})
    return base


def make_adapter(root: Path, name: str, base: str, rank: int = 8, targets: list[str] | None = None,
                 weights: bool = True) -> Path:  # fmt: skip
    folder = root / name
    folder.mkdir(parents=True)
    targets = targets or ["q_proj", "v_proj"]
    config = {"base_model_name_or_path": base, "r": rank, "lora_alpha": 16, "target_modules": targets,
              "peft_type": "LORA"}  # fmt: skip
    (folder / "adapter_config.json").write_text(json.dumps(config))
    if weights:
        tensors = {}
        for t in targets:
            prefix = f"base_model.model.model.layers.0.self_attn.{t}"
            tensors[f"{prefix}.lora_A.weight"] = [rank, 4]
            tensors[f"{prefix}.lora_B.weight"] = [4, rank]
        write_safetensors(folder / "adapter_model.safetensors", tensors)
    return folder


def cluster_for(base: Path, adapters: dict[str, Path], rank: int = 8) -> Cluster:
    return Cluster.model_validate({
        "models": {"tiny": {"path": str(base)}},
        "adapters": {n: {"role": "cleaner", "tier": "small", "base": "tiny", "path": str(p), "rank": rank,
                         "target_modules": ["q_proj", "v_proj"]} for n, p in adapters.items()},
        "workers": [{"name": "w1", "node": "n1", "url": "http://127.0.0.1:9/v1", "base": "tiny",
                     "adapters": list(adapters)}],
        "stages": {"cleaner": {"adapters": {"small": next(iter(adapters))}, "system_prompt": "x"}},
    })  # fmt: skip


def reports_for(tmp_path: Path, adapter_kwargs: dict[str, Any], rank: int = 8) -> AdapterReport:
    base = make_base(tmp_path)
    kwargs = {"base": str(base), **adapter_kwargs}
    folder = make_adapter(tmp_path / "adapters", "a1", **kwargs)
    (report,) = validate_manifest(read_manifest(cluster_for(base, {"a1": folder}, rank)))
    return report


def test_safetensors_header_is_read_by_hand(tmp_path: Path) -> None:
    write_safetensors(tmp_path / "x.safetensors", {"a.weight": [3, 2]})
    header = read_safetensors_header(tmp_path / "x.safetensors")
    assert header["a.weight"] == {"dtype": "F32", "shape": [3, 2], "data_offsets": [0, 24]}


def test_base_modules_from_weights_and_from_config(tmp_path: Path) -> None:
    found = base_module_names(make_base(tmp_path))
    assert found is not None
    assert {"q_proj", "down_proj", "embed_tokens"} <= found[0]
    (tmp_path / "base-model" / "model.safetensors").unlink()
    assert base_module_names(tmp_path / "base-model") == (
        {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"},
        "config.json model_type 'llama'",
    )


def test_good_adapter_passes(tmp_path: Path) -> None:
    report = reports_for(tmp_path, {})
    assert report.ok, report.problems
    assert report.line() == "ok   a1: r=8, targets=q_proj,v_proj, workers=w1"


def test_wrong_rank_fails(tmp_path: Path) -> None:
    report = reports_for(tmp_path, {"rank": 16})
    assert not report.ok
    assert "rank r=16 but the cluster file says rank 8" in report.problems
    assert "rank r=16 exceeds the worker's --max-lora-rank 8" in report.problems
    assert report.line().startswith("FAIL a1: rank r=16")


def test_missing_weights_fail(tmp_path: Path) -> None:
    report = reports_for(tmp_path, {"weights": False})
    assert len(report.problems) == 1
    assert report.problems[0].startswith("no adapter_model.safetensors or adapter_model.bin in ")


def test_wrong_base_fails(tmp_path: Path) -> None:
    report = reports_for(tmp_path, {"base": "meta-llama/Llama-3.2-3B-Instruct"})
    assert report.problems == [
        f"trained on base 'meta-llama/Llama-3.2-3B-Instruct' but its workers serve 'tiny' ({tmp_path}/base-model)"
    ]


def test_base_by_hub_name_matches_folder_name(tmp_path: Path) -> None:
    report = reports_for(tmp_path, {"base": "someone/BASE-MODEL"})
    assert report.ok, report.problems


def test_unknown_target_module_fails(tmp_path: Path) -> None:
    base = make_base(tmp_path, [t for t in LLAMA_TENSORS if "v_proj" not in t])
    folder = make_adapter(tmp_path / "adapters", "a1", str(base))
    (report,) = validate_manifest(read_manifest(cluster_for(base, {"a1": folder})))
    assert report.problems == ["target modules ['v_proj'] do not exist in the base (from safetensors weights)"]


def test_target_outside_manifest_fails(tmp_path: Path) -> None:
    report = reports_for(tmp_path, {"targets": ["q_proj", "o_proj"]})
    assert report.problems == ["targets ['o_proj'] are not in the cluster file's target_modules ['q_proj', 'v_proj']"]


def test_missing_folder_and_bad_json(tmp_path: Path) -> None:
    base = make_base(tmp_path)
    broken = tmp_path / "adapters" / "broken"
    broken.mkdir(parents=True)
    (broken / "adapter_config.json").write_text("{not json")
    cluster = cluster_for(base, {"gone": tmp_path / "nowhere", "broken": broken})
    reports = {r.name: r for r in validate_manifest(read_manifest(cluster))}
    assert reports["gone"].problems == [f"adapter folder {tmp_path / 'nowhere'} does not exist"]
    assert "is not valid JSON" in reports["broken"].problems[-1]


def test_node_filter_and_unknown_node(tmp_path: Path) -> None:
    base = make_base(tmp_path)
    cluster = cluster_for(base, {"a1": make_adapter(tmp_path / "adapters", "a1", str(base))})
    assert [e.name for e in read_manifest(cluster, "n1")] == ["a1"]
    with pytest.raises(ManifestError, match="node 'n9' has no workers"):
        read_manifest(cluster, "n9")
