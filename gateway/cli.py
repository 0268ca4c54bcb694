"""`mpr serve`: run the gateway for a cluster file with uvicorn."""

from __future__ import annotations

import argparse
import gc
import math
import signal
import sys
from collections.abc import Sequence
from types import FrameType
from typing import TYPE_CHECKING

from config import Cluster, ConfigError, load_cluster

if TYPE_CHECKING:
    from prometheus_client.registry import Collector


def add_serve_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "serve", help="run the gateway", description="Run the refinement gateway for a cluster file."
    )
    parser.add_argument("--config", required=True, help="cluster file (YAML), e.g. config/local.yaml")
    parser.add_argument("--host", help="bind address (default: the file's gateway.host)")
    parser.add_argument("--port", type=int, help="port (default: the file's gateway.port)")
    parser.set_defaults(handler=serve)


def serve(args: argparse.Namespace) -> int:
    try:
        cluster = load_cluster(args.config)
    except ConfigError as exc:
        print(f"mpr serve: {exc}", file=sys.stderr)
        return 2
    run_gateway(cluster, args.host, args.port)
    return 0


def run_gateway(cluster: Cluster, host: str | None, port: int | None, collectors: Sequence[Collector] = ()) -> None:
    """Serve the gateway until SIGINT/SIGTERM, then drain; JSON logs on stderr; `collectors` join /metrics."""
    import uvicorn

    from gateway.http.app import create_app
    from gateway.http.logs import configure_logging

    settings = cluster.gateway
    configure_logging(settings.log_level)
    # uvicorn drains on SIGTERM (stops accepting, waits for in-flight requests up to the drain time, runs the
    # lifespan shutdown that closes the clients), then re-raises the signal: a no-op handler makes that exit 0.
    signal.signal(signal.SIGTERM, _drained)
    uvicorn.run(
        # Everything alive after start-up (the spelling index alone is ~150,000 objects) lives as long as the
        # process: frozen out of the collector, a full collection no longer pauses a request for ~60 ms.
        create_app(cluster, after_startup=gc.freeze, collectors=collectors),
        host=host or settings.host,
        port=port or settings.port,
        log_level=settings.log_level,
        log_config=None,  # uvicorn's loggers propagate to the JSON handler set up above
        access_log=False,
        timeout_graceful_shutdown=max(1, math.ceil(settings.drain_timeout_s)),
    )


def _drained(signum: int, frame: FrameType | None) -> None:
    """SIGTERM after uvicorn's graceful shutdown: nothing left to do."""


def main(argv: list[str] | None = None) -> int:
    """`python -m gateway.cli serve --config FILE`: the serve command without the rest of the `mpr` tree."""
    parser = argparse.ArgumentParser(prog="python -m gateway.cli")
    add_serve_command(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
