"""rsync's whole-transfer progress on the controller: a wrapper that records it, a watcher that draws it as a bar.

Ansible hands a task's output back only when the task ends, so a long copy (a base model, a big index) would look
stuck. The playbook's rsync tasks run on the controller (`delegate_to: localhost`) as

    python -m launch.deploy.transfer_progress PROGRESS_DIR LABEL -- rsync --info=progress2 ...

which passes rsync's other output through unchanged (the summary parses its --stats) and keeps the latest
progress line in PROGRESS_DIR; `ProgressWatcher` (in `mpr deploy`) draws those lines as bars while ansible runs.
"""

from __future__ import annotations

import codecs
import os
import re
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

# "     1,865,023  45%   12.31MB/s    0:00:03 (xfr#4, to-chk=0/5)"
_PROGRESS = re.compile(r"^\s*(?P<bytes>[\d,]+)\s+(?P<percent>\d+)%\s+(?P<rate>\S+/s)\s+(?P<eta>\d+:\d\d:\d\d)")
SUFFIX = ".progress"
PROGRESS_FOLDER = "progress"  # under the run's results folder
BAR_WIDTH = 24


@dataclass(frozen=True)
class Progress:
    """One progress2 line: bytes so far, percent of the whole transfer, rate, time left (or taken)."""

    sent: int
    percent: int
    rate: str
    eta: str

    def bar(self, label: str) -> str:
        filled = BAR_WIDTH * min(self.percent, 100) // 100
        drawn = "#" * filled + "." * (BAR_WIDTH - filled)
        return f"  copy {label} [{drawn}] {self.percent:3d}% {self.sent:,} B {self.rate}"


def parse(line: str) -> Progress | None:
    match = _PROGRESS.match(line)
    if match is None:
        return None
    return Progress(int(match["bytes"].replace(",", "")), int(match["percent"]), match["rate"], match["eta"])


def progress_file(folder: Path, label: str) -> Path:
    return folder / (re.sub(r"[^A-Za-z0-9_.-]+", "_", label).strip("_") + SUFFIX)


def relay(command: list[str], record: Path, label: str) -> int:
    """Run rsync, pass everything but the progress lines to stdout, keep the latest progress line in `record`."""
    record.parent.mkdir(parents=True, exist_ok=True)
    with subprocess.Popen(command, stdout=subprocess.PIPE) as process:
        assert process.stdout is not None
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        pending = ""
        # os.read returns what rsync has written so far; a text stream's read(n) would wait for n characters.
        while raw := os.read(process.stdout.fileno(), 4096):
            *pieces, pending = re.split(r"[\r\n]", pending + decoder.decode(raw))
            for piece in pieces:
                _route(piece, record, label)
        if pending:
            _route(pending, record, label)
    return process.returncode


def _route(piece: str, record: Path, label: str) -> None:
    if parse(piece) is not None:
        record.write_text(f"{label}\n{piece.strip()}\n", encoding="utf-8")
    elif piece.strip():
        sys.stdout.write(piece + "\n")
        sys.stdout.flush()


def main(argv: list[str]) -> int:
    if len(argv) < 4 or argv[2] != "--":
        print("usage: python -m launch.deploy.transfer_progress PROGRESS_DIR LABEL -- rsync ...", file=sys.stderr)
        return 2
    folder, label, _, *command = argv
    return relay(command, progress_file(Path(folder), label), label)


class ProgressWatcher:
    """While open, every `interval_s` prints a bar for each copy whose progress changed (a thread; no shell)."""

    def __init__(self, folder: Path, interval_s: float = 2.0) -> None:
        self._folder = folder
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._seen: dict[Path, str] = {}
        self._thread = threading.Thread(target=self._run, name="mpr-copy-progress", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self.poll()

    def poll(self) -> list[str]:
        """Bars for the copies that moved since the last poll (also printed)."""
        bars = []
        for path in sorted(self._folder.glob("*" + SUFFIX)):
            try:
                label, _, line = path.read_text(encoding="utf-8").strip().partition("\n")
            except OSError:
                continue
            progress = parse(line)
            # Nothing sent yet (or nothing to send: a re-run) is not worth a bar.
            if progress is None or progress.sent == 0 or self._seen.get(path) == line:
                continue
            self._seen[path] = line
            bars.append(progress.bar(label))
        for bar in bars:
            sys.stdout.write(bar + "\n")
        sys.stdout.flush()
        return bars

    def __enter__(self) -> ProgressWatcher:
        self._folder.mkdir(parents=True, exist_ok=True)
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
