"""rsync progress on the controller: recorded by the wrapper, its other output passed through, drawn as bars."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from launch.deploy.tasks import rsync_task
from launch.deploy.transfer_progress import ProgressWatcher, parse, progress_file

# What `rsync --info=progress2 --stats --itemize-changes` writes: progress rewritten with carriage returns.
RSYNC_OUTPUT = (
    ">f+++++++++ adapter_model.safetensors\n"
    "        32,768   1%    0.00kB/s    0:00:00\r"
    "     1,048,576  56%   12.31MB/s    0:00:01\r"
    "     1,865,023 100%   14.02MB/s    0:00:00 (xfr#4, to-chk=0/5)\n"
    "\nNumber of regular files transferred: 4\nLiteral data: 1,865,023 bytes\n"
)


def fake_rsync(tmp_path: Path, code: int = 0) -> list[str]:
    script = tmp_path / "rsync.py"
    script.write_text(f"import sys\nsys.stdout.write({RSYNC_OUTPUT!r})\nsys.exit({code})\n")
    return [sys.executable, str(script)]


def wrapped(tmp_path: Path, command: list[str]) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "launch.deploy.transfer_progress", str(tmp_path / "progress"), "jw2 demo-cleaner"]
    return subprocess.run([*argv, "--", *command], capture_output=True, text=True, check=False, timeout=60)


def test_parse_reads_progress2_lines_only() -> None:
    progress = parse("     1,048,576  56%   12.31MB/s    0:00:01")
    assert progress is not None and (progress.sent, progress.percent, progress.rate) == (1048576, 56, "12.31MB/s")
    assert parse("Number of regular files transferred: 4") is None
    assert "[#############...........]  56%" in progress.bar("jw2 demo-cleaner")


def test_wrapper_passes_rsyncs_summary_through_and_keeps_the_last_progress(tmp_path: Path) -> None:
    result = wrapped(tmp_path, fake_rsync(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "Number of regular files transferred: 4" in result.stdout
    assert ">f+++++++++ adapter_model.safetensors" in result.stdout
    assert "%" not in result.stdout, "progress lines stay out of what ansible parses"
    record = progress_file(tmp_path / "progress", "jw2 demo-cleaner").read_text()
    assert record == "jw2 demo-cleaner\n1,865,023 100%   14.02MB/s    0:00:00 (xfr#4, to-chk=0/5)\n"


def test_wrapper_keeps_rsyncs_exit_code(tmp_path: Path) -> None:
    assert wrapped(tmp_path, fake_rsync(tmp_path, code=23)).returncode == 23


def test_watcher_draws_a_bar_when_a_copy_moves(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "progress"
    folder.mkdir()
    watcher = ProgressWatcher(folder)
    record = progress_file(folder, "jw1 knowledge index")
    record.write_text("jw1 knowledge index\n0   0%    0.00kB/s    0:00:00\n")
    assert watcher.poll() == [], "nothing sent yet: no bar"
    record.write_text("jw1 knowledge index\n8,000,000  45%   20.00MB/s    0:00:01\n")
    expected = parse("8,000,000  45%   20.00MB/s    0:00:01")
    assert expected is not None
    assert watcher.poll() == [expected.bar("jw1 knowledge index")]
    assert watcher.poll() == [], "nothing new, nothing drawn"
    record.write_text("jw1 knowledge index\n17,854,464 100%   21.00MB/s    0:00:00 (xfr#1, to-chk=0/1)\n")
    assert "100%" in watcher.poll()[0]
    assert "copy jw1 knowledge index [" in capsys.readouterr().out


def test_rsync_tasks_run_under_the_progress_wrapper() -> None:
    task = rsync_task("adapters", "{{ item.src }}/", "{{ item.dest }}/", "mpr_adapters_sync", loop="{{ mpr_adapters }}")
    argv = task["ansible.builtin.command"]["argv"]
    assert argv[:3] == ["{{ mpr_controller_python }}", "-m", "launch.deploy.transfer_progress"]
    assert argv[argv.index("--") + 1] == "rsync" and "--info=progress2" in argv
    assert task["delegate_to"] == "localhost"
