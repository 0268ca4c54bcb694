"""sha256 of adapter folders: every file, relative paths, the sha256sum format, and a missing folder named."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from adapters.checksums import ChecksumError, folder_sha256, sha256sum_text


def test_every_file_is_hashed_by_relative_path(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "adapter_config.json").write_bytes(b"{}")
    (tmp_path / "sub" / "w.bin").write_bytes(b"\x00" * 10)
    digests = folder_sha256(tmp_path)
    assert digests == {
        "adapter_config.json": hashlib.sha256(b"{}").hexdigest(),
        "sub/w.bin": hashlib.sha256(b"\x00" * 10).hexdigest(),
    }


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="coreutils sha256sum not installed")
def test_sha256sum_checks_the_text_and_catches_a_changed_file(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text("x")
    sums = tmp_path.parent / f"{tmp_path.name}.sha256"
    sums.write_text(sha256sum_text(folder_sha256(tmp_path)))
    argv = ["sha256sum", "--check", "--strict", "--quiet", str(sums)]
    assert subprocess.run(argv, cwd=tmp_path, capture_output=True).returncode == 0
    (tmp_path / "a.json").write_text("y")
    bad = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True)
    assert bad.returncode == 1 and "a.json: FAILED" in bad.stdout


def test_missing_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(ChecksumError, match="nope does not exist"):
        folder_sha256(tmp_path / "nope")
