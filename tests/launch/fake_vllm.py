"""A stand-in vLLM OpenAI server for supervision tests: /health, /v1/models, one-token chat (stdlib only)."""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def make_handler(base: str, adapters: list[str]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: object) -> None:
            raw = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self) -> None:
            if self.path == "/health":
                self._send(200, None)
            elif self.path == "/v1/models":
                data = [{"id": base, "parent": None}] + [{"id": a, "parent": base} for a in adapters]
                self._send(200, {"object": "list", "data": data})
            else:
                self._send(404, {"error": {"message": "nope"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            model = json.loads(self.rfile.read(length))["model"]
            self._send(200, {"model": model, "choices": [{"message": {"role": "assistant", "content": "x"}}]})

    return Handler


def main(argv: list[str]) -> int:
    port, base, *adapters = argv
    if base == "crash":
        print("fake engine: boom", flush=True)
        return 3
    print(f"fake vllm on {port}", flush=True)
    ThreadingHTTPServer(("127.0.0.1", int(port)), make_handler(base, adapters)).serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
