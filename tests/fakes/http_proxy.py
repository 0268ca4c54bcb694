"""A forward HTTP proxy on loopback (absolute-form requests, one per connection) that records what it carried."""

from __future__ import annotations

import asyncio
import threading
import urllib.parse
from types import TracebackType


class ForwardProxy:
    """Relays each request to its origin with `Connection: close` and pipes the answer back as it arrives."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="forward-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            method, target, version = request_line.split(" ")
            self.seen.append(f"{method} {target}")
            parts = urllib.parse.urlsplit(target)
            headers = [h for h in header_lines if h and not h.lower().startswith(("connection:", "proxy-"))]
            length = next((int(h.split(":", 1)[1]) for h in headers if h.lower().startswith("content-length:")), 0)
            body = await reader.readexactly(length)
            up_reader, up_writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            up_writer.write(("\r\n".join([f"{method} {path} {version}", *headers, "Connection: close"]) + "\r\n\r\n")
                            .encode("latin-1") + body)  # fmt: skip
            while data := await up_reader.read(65536):
                writer.write(data)
                await writer.drain()
            up_writer.close()
        finally:
            writer.close()

    def __enter__(self) -> ForwardProxy:
        self._thread.start()
        self._ready.wait(5)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        async def stop() -> None:
            if self._server is not None:
                self._server.close()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
