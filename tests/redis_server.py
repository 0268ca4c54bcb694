"""A real redis-server on a free loopback port in a temporary directory, for idempotency tests."""

from __future__ import annotations

import shutil
import subprocess
import threading
from pathlib import Path

from benchmarks.ports import free_port

MISSING = (
    "redis-server is not installed: the idempotency tests need the real server "
    "(Debian: apt-get install -y redis-server; .ci/run installs it when missing)."
)


class RedisServer:
    """Started with `start()` (returns once it accepts connections), stopped with `stop()`; no persistence."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self._ready = threading.Event()
        self._output: list[str] = []
        self._process: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 15.0) -> RedisServer:
        executable = shutil.which("redis-server")
        if executable is None:
            raise RuntimeError(MISSING)
        argv = [executable, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.directory)]
        argv += ["--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", ""]
        self._process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._read, args=(self._process,), daemon=True).start()
        if not self._ready.wait(timeout_s):
            self.stop()
            raise RuntimeError("redis-server did not start:\n" + "".join(self._output[-20:]))
        return self

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self._output.append(line)
            if "Ready to accept connections" in line:
                self._ready.set()

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
