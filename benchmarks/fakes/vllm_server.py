"""A real loopback HTTP fake of a vLLM 0.32 OpenAI server with multi-LoRA, scriptable per test."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from types import FrameType, TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from benchmarks.fakes import vllm_protocol as proto
from benchmarks.fakes.vllm_generation import CLOSE_KEY, GenerationEndpoint
from benchmarks.fakes.vllm_metrics import FakeMetrics
from benchmarks.fakes.vllm_script import GENERATION_PATHS, Behaviour, RecordedRequest, ScriptState

_GUARDED_PREFIX = ("/v1", "/v2", "/inference", "/cohere")


class StartedServer(uvicorn.Server):
    """uvicorn that sets `started` once it accepts connections (servers run in a background thread)."""

    def __init__(self, config: uvicorn.Config, started: threading.Event) -> None:
        super().__init__(config)
        self._started_event = started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self._started_event.set()


class FakeVllmServer:
    """A vLLM 0.32 OpenAI server look-alike on 127.0.0.1, run by uvicorn in a background thread."""

    def __init__(
        self,
        base_model: str = "smollm2-135m",
        *,
        base_path: str | None = None,
        max_model_len: int = 2048,
        adapters: Mapping[str, str] | None = None,
        api_key: str | None = None,
        default: Behaviour | None = None,
        max_loras: int = 1,
        allow_runtime_lora: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.base_model = base_model
        self.base_path = base_path if base_path is not None else f"/models/{base_model}"
        self.max_model_len = max_model_len
        self.api_key = api_key
        self.max_loras = max_loras
        self.allow_runtime_lora = allow_runtime_lora
        self.host = host
        self._requested_port = port
        self.port: int | None = None
        self.fingerprint = proto.system_fingerprint(base_model)
        self._adapters: dict[str, str] = dict(adapters or {})
        self.state = ScriptState(default or Behaviour())
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: StartedServer | None = None
        self._stopping: asyncio.Event | None = None
        self._gates: dict[str, asyncio.Event] = {}
        self._opened_gates: set[str] = set()
        self._thread_error: BaseException | None = None
        self.metrics = FakeMetrics(base_model, max_loras)
        self._starlette = self._build_app()

    # ------------------------------------------------------------ lifecycle

    def start(self, timeout: float = 10.0) -> FakeVllmServer:
        """Bind, start serving in a background thread, and return once it accepts connections."""
        if self._thread is not None:
            raise RuntimeError("fake vLLM server already started")
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted sockets only then (else Nagle adds 40 ms).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._requested_port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._asgi,
            log_level="warning",
            access_log=False,
            lifespan="off",
            proxy_headers=False,
            http="h11",
            interface="asgi3",
            timeout_graceful_shutdown=2,
        )
        started = threading.Event()
        self._server = StartedServer(config, started)
        self._thread_error = None
        self._thread = threading.Thread(
            target=self._thread_main, args=(self._server, sock), name=f"fake-vllm-{self.port}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not started.wait(0.05):
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"fake vLLM server failed to start: {self._thread_error!r}")
        return self

    def _thread_main(self, server: StartedServer, sock: socket.socket) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            loop.run_until_complete(self._serve(server, sock))
        except BaseException as exc:  # surfaced by start()
            self._thread_error = exc
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            sock.close()

    async def _serve(self, server: StartedServer, sock: socket.socket) -> None:
        self._stopping = asyncio.Event()
        self._gates = {name: asyncio.Event() for name in self._opened_gates}
        for event in self._gates.values():
            event.set()
        await server.serve(sockets=[sock])

    def stop(self, timeout: float = 5.0) -> None:
        """Stop promptly: hung and slow requests are cut off, then the thread is joined."""
        thread, loop, server = self._thread, self._loop, self._server
        if thread is None or server is None:
            return
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # loop already closed
                loop.call_soon_threadsafe(self._signal_stopping)
        server.should_exit = True
        thread.join(timeout)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout)
        self._thread = None
        self._loop = None
        self._server = None

    def stopping_event(self) -> asyncio.Event:
        """Set when stop() begins (server loop only)."""
        assert self._stopping is not None
        return self._stopping

    def update_running_metric(self) -> None:
        adapters = self.adapters
        running = [m for m in self.state.running_models() if m in adapters]
        self.metrics.update_running(self.state.in_flight(), running)

    def _signal_stopping(self) -> None:
        if self._stopping is not None:
            self._stopping.set()

    def __enter__(self) -> FakeVllmServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> FakeVllmServer:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.stop)

    @property
    def url(self) -> str:
        """`http://127.0.0.1:<port>` (no /v1)."""
        if self.port is None:
            raise RuntimeError("fake vLLM server not started")
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>/v1`, for openai.OpenAI(base_url=...)."""
        return f"{self.url}/v1"

    # ------------------------------------------------------------ scripting

    def set_default(self, behaviour: Behaviour) -> None:
        self.state.set_default(behaviour)

    def set_model_behaviour(self, model: str, behaviour: Behaviour | None) -> None:
        """Behaviour for every request to `model` (None removes it)."""
        self.state.set_model(model, behaviour)

    def enqueue(self, *behaviours: Behaviour, model: str | None = None) -> None:
        """One-shot behaviours, used FIFO by the next valid generation requests (for `model`, or any)."""
        self.state.enqueue(behaviours, model)

    def set_dead(self, dead: bool = True) -> None:
        """Dead engine: /health -> 503, generation -> 500 EngineDeadError body."""
        with self.state.cond:
            self.state.dead = dead

    def open_gate(self, name: str) -> None:
        """Release requests waiting on Behaviour(gate=name), and all later ones."""
        self._opened_gates.add(name)
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(lambda: self.gate_event(name).set())

    def gate_event(self, name: str) -> asyncio.Event:
        """The loop-side event of a gate (server loop only)."""
        if name not in self._gates:
            self._gates[name] = asyncio.Event()
            if name in self._opened_gates:
                self._gates[name].set()
        return self._gates[name]

    @property
    def adapters(self) -> dict[str, str]:
        with self.state.cond:
            return dict(self._adapters)

    # ------------------------------------------------------------ assertions

    def requests(self, paths: Iterable[str] | None = GENERATION_PATHS) -> list[RecordedRequest]:
        """Recorded requests (default: chat + completions; paths=None: everything)."""
        return self.state.records(paths)

    @property
    def last_request(self) -> RecordedRequest:
        records = self.state.records()
        if not records:
            raise AssertionError("fake vLLM: no generation request recorded")
        return records[-1]

    def count(self, model: str | None = None) -> int:
        """Generation requests received (for `model`, or in total)."""
        return self.state.count(model)

    def counts(self) -> dict[str, int]:
        return self.state.counts()

    def in_flight(self, model: str | None = None) -> int:
        return self.state.in_flight(model)

    @property
    def peak_in_flight(self) -> int:
        return self.state.peak_in_flight

    @property
    def completed(self) -> int:
        """Generation requests answered successfully."""
        return self.state.completed

    @property
    def cancelled(self) -> int:
        """Generation requests whose client disconnected before the answer was complete."""
        return self.state.cancelled

    def clear(self) -> None:
        """Forget recordings, counters and queued one-shots (behaviours stay)."""
        self.state.clear()

    def wait_for_requests(
        self, n: int, timeout: float = 5.0, paths: Iterable[str] | None = GENERATION_PATHS
    ) -> list[RecordedRequest]:
        """Block until at least n matching requests arrived; TimeoutError otherwise."""
        wanted = None if paths is None else tuple(paths)
        self.state.wait_until(
            lambda: len(self.state.records(wanted)) >= n, timeout, f"{n} requests on {wanted or 'any path'}"
        )
        return self.state.records(wanted)

    def wait_until(self, predicate: Callable[[FakeVllmServer], bool], timeout: float = 5.0) -> None:
        """Block until predicate(fake) holds; re-checked at every arrival and completion."""
        self.state.wait_until(lambda: predicate(self), timeout, "predicate")

    async def wait_for_requests_async(
        self,
        n: int,
        timeout: float = 5.0,  # noqa: ASYNC109 (thread wait)
        paths: Iterable[str] | None = GENERATION_PATHS,
    ) -> list[RecordedRequest]:
        return await asyncio.to_thread(self.wait_for_requests, n, timeout, paths)

    async def wait_until_async(self, predicate: Callable[[FakeVllmServer], bool], timeout: float = 5.0) -> None:  # noqa: ASYNC109 (thread wait)
        await asyncio.to_thread(self.wait_until, predicate, timeout)

    # ------------------------------------------------------------ ASGI plumbing

    async def _asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            transport = getattr(getattr(send, "__self__", None), "transport", None)
            scope[CLOSE_KEY] = transport.close if transport is not None else None
        await self._starlette(scope, receive, send)

    def _build_app(self) -> Starlette:
        async def not_found(request: Request, exc: Exception) -> Response:
            assert isinstance(exc, HTTPException)
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

        routes = [
            Route("/health", self._health, methods=["GET"]),
            Route("/v1/models", self._models, methods=["GET"]),
            Route("/metrics", self._metrics, methods=["GET"]),
            Route("/v1/chat/completions", GenerationEndpoint(self, "chat"), methods=["POST"]),
            Route("/v1/completions", GenerationEndpoint(self, "completion"), methods=["POST"]),
        ]
        if self.allow_runtime_lora:
            routes += [
                Route("/v1/load_lora_adapter", self._load_lora, methods=["POST"]),
                Route("/v1/unload_lora_adapter", self._unload_lora, methods=["POST"]),
            ]
        return Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found})

    async def record(self, request: Request) -> tuple[RecordedRequest, Response | None]:
        """Record the request; return the 401 response vLLM's --api-key middleware would send."""
        raw = await request.body()
        body: Any = None
        if raw:
            with contextlib.suppress(ValueError):
                body = json.loads(raw)
        headers = {k.lower(): v for k, v in request.headers.items()}
        rec = RecordedRequest(request.method, request.url.path, headers, raw, body)
        self.state.record(rec)
        if self.api_key is not None and rec.path.startswith(_GUARDED_PREFIX) and request.method != "OPTIONS":
            scheme, _, token = headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or token != self.api_key:
                return rec, JSONResponse({"error": "Unauthorized"}, status_code=401)
        return rec, None

    # ------------------------------------------------------------ simple routes

    async def _health(self, request: Request) -> Response:
        await self.record(request)
        return Response(status_code=503 if self.state.dead else 200)

    async def _models(self, request: Request) -> Response:
        _, denied = await self.record(request)
        if denied is not None:
            return denied
        return JSONResponse(proto.model_list(self.base_model, self.base_path, self.max_model_len, self.adapters))

    async def _metrics(self, request: Request) -> Response:
        await self.record(request)
        return Response(self.metrics.render(), media_type=self.metrics.content_type)

    async def _load_lora(self, request: Request) -> Response:
        rec, denied = await self.record(request)
        if denied is not None:
            return denied
        body = rec.body if isinstance(rec.body, dict) else {}
        name, path = str(body.get("lora_name") or ""), str(body.get("lora_path") or "")
        err: proto.JsonDict | None = None
        if not name or not path:
            err = proto.error_body("Both 'lora_name' and 'lora_path' must be provided.", "InvalidUserInput")
        elif name == self.base_model:
            err = proto.error_body(f"The lora adapter '{name}' conflicts with a served base model.", "InvalidUserInput")
        elif name in self.adapters and not body.get("load_inplace"):
            err = proto.error_body(
                f"The lora adapter '{name}' has already been loaded. If you want to load the adapter in "
                "place, set 'load_inplace' to True.",
                "InvalidUserInput",
            )
        elif path.startswith("/nonexistent"):
            err = proto.error_body(f"Loading lora {name} failed: No adapter found for {path}", "NotFoundError", 404)
        if err is not None:
            return JSONResponse(err, status_code=err["error"]["code"])
        with self.state.cond:
            self._adapters[name] = path
        return Response(f"Success: LoRA adapter '{name}' added successfully.", status_code=200)

    async def _unload_lora(self, request: Request) -> Response:
        rec, denied = await self.record(request)
        if denied is not None:
            return denied
        name = str((rec.body if isinstance(rec.body, dict) else {}).get("lora_name") or "")
        if not name:
            err = proto.error_body("'lora_name' needs to be provided to unload a LoRA adapter.", "InvalidUserInput")
            return JSONResponse(err, status_code=400)
        with self.state.cond:
            if name not in self._adapters:
                err = proto.error_body(f"The lora adapter '{name}' cannot be found.", "NotFoundError", 404)
                return JSONResponse(err, status_code=404)
            del self._adapters[name]
        return Response(f"Success: LoRA adapter '{name}' removed successfully.", status_code=200)


# ---------------------------------------------------------------- CLI


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.fakes.vllm_server",
        description="Fake vLLM 0.32 OpenAI worker (multi-LoRA) for manual testing.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8100)
    p.add_argument("--base", default="smollm2-135m", help="served base model name")
    p.add_argument("--base-path", default=None, help="`root` of the base model card")
    p.add_argument("--max-model-len", type=int, default=2048)
    p.add_argument("--adapter", action="append", default=[], metavar="NAME=PATH")
    p.add_argument("--api-key", default=None)
    p.add_argument("--max-loras", type=int, default=1)
    p.add_argument("--allow-runtime-lora", action="store_true")
    p.add_argument("--reply-mode", choices=["echo", "fixed"], default="echo")
    p.add_argument("--reply", default="This is a fake reply.", help="reply text for --reply-mode fixed")
    p.add_argument("--delay", type=float, default=0.0, help="seconds before response headers")
    p.add_argument("--token-delay", type=float, default=0.0, help="seconds per generated token")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = _parse_args(argv)
    adapters: dict[str, str] = {}
    for spec in args.adapter:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise SystemExit(f"--adapter expects NAME=PATH, got {spec!r}")
        adapters[name] = path
    behaviour = Behaviour(
        reply=args.reply if args.reply_mode == "fixed" else None, delay=args.delay, token_delay=args.token_delay
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    fake = FakeVllmServer(
        args.base,
        base_path=args.base_path,
        max_model_len=args.max_model_len,
        adapters=adapters,
        api_key=args.api_key,
        default=behaviour,
        max_loras=args.max_loras,
        allow_runtime_lora=args.allow_runtime_lora,
        host=args.host,
        port=args.port,
    )
    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    with fake:
        logging.info(
            "fake vLLM serving %s + %s on %s (reply mode %s)",
            args.base,
            ", ".join(adapters) or "no adapters",
            fake.base_url,
            args.reply_mode,
        )
        done.wait()
    logging.info("fake vLLM stopped")


if __name__ == "__main__":
    main()
