"""Reading checkpoint folders without torch: JSON configs and safetensors headers (8-byte length + JSON)."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")
MAX_HEADER_BYTES = 100 * 1024 * 1024
# Linear layers of the llama family (llama, mistral, qwen2, smollm...): what LoRA usually targets.
LLAMA_LINEARS = frozenset({"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"})
LLAMA_FAMILY = frozenset({"llama", "mistral", "qwen2", "qwen3", "granite", "olmo2"})


class CheckpointError(Exception):
    """A checkpoint file that is missing or cannot be parsed; the message names the file."""


def read_json_object(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CheckpointError(f"{path} is missing") from exc
    except OSError as exc:
        raise CheckpointError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise CheckpointError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise CheckpointError(f"{path} must hold a JSON object")
    return data


def read_safetensors_header(path: Path) -> dict[str, Any]:
    """The header of a .safetensors file: tensor name -> {dtype, shape, data_offsets} (plus __metadata__)."""
    try:
        with path.open("rb") as handle:
            prefix = handle.read(8)
            if len(prefix) != 8:
                raise CheckpointError(f"{path}: too short to be a safetensors file")
            (length,) = struct.unpack("<Q", prefix)
            if length > MAX_HEADER_BYTES:
                raise CheckpointError(f"{path}: safetensors header length {length} is implausible")
            raw = handle.read(length)
    except OSError as exc:
        raise CheckpointError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if len(raw) != length:
        raise CheckpointError(f"{path}: truncated safetensors header")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise CheckpointError(f"{path}: safetensors header is not JSON: {exc}") from exc
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: safetensors header is not an object")
    return header


def tensor_names(path: Path) -> list[str]:
    return [name for name in read_safetensors_header(path) if name != "__metadata__"]


def adapter_weights_file(adapter_dir: Path) -> Path | None:
    for name in ADAPTER_WEIGHTS:
        candidate = adapter_dir / name
        if candidate.is_file():
            return candidate
    return None


def base_tensor_names(model_dir: Path) -> list[str] | None:
    """Weight names of a local HF folder from its safetensors index or headers; None when there are none."""
    index = model_dir / "model.safetensors.index.json"
    if index.is_file():
        weight_map = read_json_object(index).get("weight_map")
        if isinstance(weight_map, dict):
            return [str(name) for name in weight_map]
    files = sorted(model_dir.glob("*.safetensors"))
    if not files:
        return None
    return [name for file in files for name in tensor_names(file)]


def module_names(tensors: list[str]) -> set[str]:
    """Leaf module names owning a weight ("model.layers.0.self_attn.q_proj.weight" -> "q_proj")."""
    leaves = set()
    for tensor in tensors:
        parts = tensor.split(".")
        if len(parts) >= 2 and parts[-1] in {"weight", "bias", "qweight", "scales"}:
            leaves.add(parts[-2])
    return leaves


def base_module_names(model_dir: Path) -> tuple[set[str], str] | None:
    """The base's linear module names and how they were found; None when the folder tells us nothing."""
    tensors = base_tensor_names(model_dir) if model_dir.is_dir() else None
    if tensors:
        return module_names(tensors), "safetensors weights"
    config_path = model_dir / "config.json"
    if not config_path.is_file():
        return None
    config = read_json_object(config_path)
    model_type = str(config.get("model_type", ""))
    architectures = [str(a) for a in config.get("architectures") or []]
    if model_type in LLAMA_FAMILY or any(a.startswith("Llama") for a in architectures):
        return set(LLAMA_LINEARS), f"config.json model_type {model_type!r}"
    return None
