"""The gateway served by uvicorn on a loopback port in its own thread: for tests and benchmarks with real clients."""

from __future__ import annotations

import asyncio
import socket
import threading

import uvicorn

from benchmarks.fakes.vllm_server import StartedServer
from config import Cluster
from gateway.http.app import create_app


class ServedGateway:
    """A gateway app for `cluster` on 127.0.0.1 (ephemeral port); `start()` returns once it accepts."""

    def __init__(self, cluster: Cluster) -> None:
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted sockets only then (else Nagle adds 40 ms).
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        config = uvicorn.Config(create_app(cluster), log_level="warning", lifespan="on")
        self._started = threading.Event()
        self._server = StartedServer(config, self._started)
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.run(self._server.serve(sockets=[self._sock]))

    def start(self, timeout_s: float = 60.0) -> ServedGateway:
        self._thread.start()
        if not self._started.wait(timeout=timeout_s):
            raise RuntimeError("the gateway did not start")
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)
