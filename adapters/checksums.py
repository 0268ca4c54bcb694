"""sha256 of every file of an adapter folder: what `mpr deploy` verifies on a node before and after rsync."""

from __future__ import annotations

import hashlib
from pathlib import Path

from adapters.manifest import ManifestEntry


class ChecksumError(Exception):
    """An adapter folder that cannot be read on the controller (missing, or a file unreadable)."""


def file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def folder_sha256(folder: Path) -> dict[str, str]:
    """Relative POSIX path -> sha256 for every regular file under `folder`, sorted by path."""
    if not folder.is_dir():
        raise ChecksumError(f"adapter folder {folder} does not exist")
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    try:
        return {p.relative_to(folder).as_posix(): file_sha256(p) for p in files}
    except OSError as exc:
        raise ChecksumError(f"{folder}: cannot read {exc.filename}: {exc.strerror}") from exc


def manifest_sha256(entries: list[ManifestEntry]) -> dict[str, dict[str, str]]:
    """Adapter name -> its files' sha256, for the manifest's adapters as they are here."""
    return {entry.name: folder_sha256(Path(entry.spec.path)) for entry in entries}


def sha256sum_text(digests: dict[str, str]) -> str:
    """The `sha256sum -c` input format ("<hex>  <path>" per line)."""
    return "".join(f"{digest}  {path}\n" for path, digest in digests.items())
