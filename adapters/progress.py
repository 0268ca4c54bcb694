"""Progress for long first-time steps: elapsed-time lines on stderr and subprocesses whose output is streamed."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO


class CommandFailedError(Exception):
    """A streamed command exited non-zero; the message ends with the last lines it printed."""

    def __init__(self, label: str, returncode: int, tail: Sequence[str]) -> None:
        self.label = label
        self.returncode = returncode
        self.tail = list(tail)
        shown = "\n".join(f"    {line}" for line in self.tail)
        super().__init__(f"{label} failed (exit {returncode}); last output:\n{shown}")


class Progress:
    """Writes `[mpr  12.3s] message` lines to a stream (the current sys.stderr by default), timed from construction."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._started = time.monotonic()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def say(self, message: str) -> None:
        stream = self._stream or sys.stderr
        stream.write(f"[mpr {self.elapsed:6.1f}s] {message}\n")
        stream.flush()

    def run(
        self,
        label: str,
        argv: Sequence[str],
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        tail_lines: int = 30,
    ) -> None:
        """Run `argv`, echoing each output line (stdout and stderr merged) with the elapsed time."""
        shown = " ".join((arg.splitlines() or [""])[0][:60] for arg in argv[:6])
        self.say(f"{label}: {shown}{' ...' if len(argv) > 6 else ''}")
        started = time.monotonic()
        tail: deque[str] = deque(maxlen=tail_lines)
        with subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
            bufsize=1,
        ) as child:
            assert child.stdout is not None
            for raw in child.stdout:
                line = raw.rstrip()
                if line:
                    tail.append(line)
                    self.say(f"  {line[:200]}")
            code = child.wait()
        if code != 0:
            raise CommandFailedError(label, code, tail)
        self.say(f"{label}: done in {time.monotonic() - started:.1f}s")


class Meter:
    """A throttled progress bar for a long loop: `[mpr 12.3s] label [#####-----] 50% detail` every few seconds."""

    def __init__(self, progress: Progress, label: str, every_s: float = 2.0, width: int = 24) -> None:
        self._progress = progress
        self._label = label
        self._every_s = every_s
        self._width = width
        self._last = -every_s

    def show(self, fraction: float | None, detail: str, *, force: bool = False) -> None:
        """Print the bar (at most once per `every_s` unless forced); `fraction` None when the total is unknown."""
        now = time.monotonic()
        if not force and now - self._last < self._every_s:
            return
        self._last = now
        if fraction is None:
            self._progress.say(f"{self._label} {detail}")
            return
        filled = round(max(0.0, min(1.0, fraction)) * self._width)
        bar = "#" * filled + "-" * (self._width - filled)
        self._progress.say(f"{self._label} [{bar}] {100.0 * fraction:5.1f}% {detail}")
