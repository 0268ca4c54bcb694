"""A base model's identity for shipped adapters: sha256 over its tensors (names, dtypes, shapes, bytes)."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

from adapters.checkpoint_files import CheckpointError, read_safetensors_header

CHUNK = 1 << 22


def _hash_file(path: Path, digest: hashlib._Hash) -> None:
    header = read_safetensors_header(path)
    with path.open("rb") as handle:
        (length,) = struct.unpack("<Q", handle.read(8))
        data_start = 8 + length
        for name in sorted(k for k in header if k != "__metadata__"):
            info = header[name]
            begin, end = (int(x) for x in info["data_offsets"])
            digest.update(json.dumps([name, info["dtype"], info["shape"]]).encode())
            handle.seek(data_start + begin)
            remaining = end - begin
            while remaining > 0:
                block = handle.read(min(CHUNK, remaining))
                if not block:
                    raise CheckpointError(f"{path}: truncated tensor {name}")
                digest.update(block)
                remaining -= len(block)


def model_digest(model_dir: Path) -> str:
    """`sha256:<hex>` of every tensor of the folder's safetensors files, independent of file layout metadata."""
    files = sorted(model_dir.glob("*.safetensors"))
    if not files:
        raise CheckpointError(f"{model_dir}: no .safetensors weights")
    digest = hashlib.sha256()
    for path in files:
        _hash_file(path, digest)
    return f"sha256:{digest.hexdigest()}"
