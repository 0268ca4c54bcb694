"""What the controller pushes: a wheel of the committed tree, its dependencies as a wheelhouse, the cluster file."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import yaml

from adapters.progress import CommandFailedError, Progress
from config.environment import process_environ
from launch.deploy.topology import DeployError

# Wheels built with a fixed timestamp are byte-identical for the same tree, so an unchanged tree sends nothing.
SOURCE_DATE_EPOCH = "315532800"
WHEEL_EXTRAS = "supervised"


@dataclass(frozen=True)
class Bundle:
    """The staged folder: wheelhouse/ (project wheel + dependencies) and config/ (cluster file + prompts)."""

    root: Path
    wheel: Path
    wheel_sha256: str


def project_root() -> Path:
    """The checkout this package runs from (where pyproject.toml is)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "pyproject.toml").is_file():
        raise DeployError(f"{root} is not a project checkout (no pyproject.toml): run mpr deploy from a clone")
    return root


def _run(progress: Progress, what: str, argv: list[str], cwd: Path | None = None) -> None:
    env = {**process_environ(), "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    try:
        progress.run(what, argv, cwd=cwd, env=env)
    except CommandFailedError as exc:
        raise DeployError(f"{what}: {exc}") from exc


def _committed_tree(root: Path, out: Path, progress: Progress) -> Path:
    """HEAD of the checkout, extracted (uncommitted changes are not deployed; said when there are some)."""
    src = out / "src"
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    if not (root / ".git").exists():
        raise DeployError(f"{root} is not a git checkout: mpr deploy pushes the committed tree")
    dirty = subprocess.run(
        ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    if dirty:
        progress.say(f"note: {len(dirty.splitlines())} uncommitted change(s) are not deployed (HEAD is)")
    archive = out / "src.tar"
    _run(progress, "git archive HEAD", ["git", "-C", str(root), "archive", "--format=tar", "-o", str(archive), "HEAD"])
    with tarfile.open(archive) as tar:
        tar.extractall(src, filter="data")
    archive.unlink()
    return src


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _stage_config(cluster_file: Path, dest: Path) -> None:
    """The cluster file and the prompt files it names (relative to it), as they will sit on every node."""
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    shutil.copyfile(cluster_file, dest / "cluster.yaml")
    raw = yaml.safe_load(cluster_file.read_text(encoding="utf-8")) or {}
    for name, stage in (raw.get("stages") or {}).items():
        prompt = (stage or {}).get("prompt_file")
        if not prompt:
            continue
        relative = PurePosixPath(prompt)
        if relative.is_absolute() or ".." in relative.parts:
            raise DeployError(f"stages.{name}.prompt_file: {prompt} must be relative to the cluster file to be pushed")
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cluster_file.parent / relative, target)


def build_bundle(cluster_file: Path, out: Path, progress: Progress) -> Bundle:
    """Build (about 5 s) the wheel of HEAD and its wheelhouse, and stage the cluster file, under `out`."""
    root = project_root()
    src = _committed_tree(root, out, progress)
    dist = out / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    pip = [sys.executable, "-m", "pip", "wheel", "--quiet"]
    _run(progress, "building the project wheel", [*pip, "--no-deps", "-w", str(dist), str(src)])
    wheels = sorted(dist.glob("mpr_gateway-*.whl"))
    if len(wheels) != 1:
        raise DeployError(f"expected one mpr_gateway wheel in {dist}, found {[w.name for w in wheels]}")
    house = out / "wheelhouse"
    shutil.rmtree(house, ignore_errors=True)
    _run(progress, "collecting its dependencies (wheelhouse)", [*pip, "-w", str(house), f"{wheels[0]}[{WHEEL_EXTRAS}]"])
    shutil.rmtree(src, ignore_errors=True)
    _stage_config(cluster_file, out / "config")
    wheel = house / wheels[0].name
    return Bundle(out, wheel, _sha256(wheel))
