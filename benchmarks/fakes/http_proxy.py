"""A forward HTTP proxy on loopback (absolute-form requests, one per connection) that records what it carried."""

from __future__ import annotations

import asyncio
import urllib.parse

from benchmarks.fakes.raw_server import ThreadedRawServer


class ForwardProxy(ThreadedRawServer):
    """Relays each request to its origin with `Connection: close` and pipes the answer back as it arrives."""

    def __init__(self) -> None:
        super().__init__("forward-proxy")
        self.seen: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
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
