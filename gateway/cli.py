"""`mpr serve`: run the gateway for a cluster file with uvicorn."""

from __future__ import annotations

import argparse
import logging
import sys

from config import ConfigError, load_cluster


def add_serve_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "serve", help="run the gateway", description="Run the refinement gateway for a cluster file."
    )
    parser.add_argument("--config", required=True, help="cluster file (YAML), e.g. config/local.yaml")
    parser.add_argument("--host", help="bind address (default: the file's gateway.host)")
    parser.add_argument("--port", type=int, help="port (default: the file's gateway.port)")
    parser.set_defaults(handler=serve)


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from gateway.app import create_app

    try:
        cluster = load_cluster(args.config)
    except ConfigError as exc:
        print(f"mpr serve: {exc}", file=sys.stderr)
        return 2
    settings = cluster.gateway
    logging.basicConfig(level=settings.log_level.upper(), format="%(message)s")
    uvicorn.run(
        create_app(cluster),
        host=args.host or settings.host,
        port=args.port or settings.port,
        log_level=settings.log_level,
        access_log=False,
    )
    return 0
