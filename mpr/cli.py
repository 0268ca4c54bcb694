"""The `mpr` console script: one argparse tree whose branches live in the packages that own them."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    # Imported here, not at module import, so `mpr --help` stays fast and nothing happens at import.
    from adapters.cli import add_adapters_commands
    from adapters.knowledge.cli import add_knowledge_commands
    from gateway.cli import add_serve_command
    from launch.cli import add_launch_commands
    from launch.deploy.cli import add_deploy_command
    from mpr.up import add_up_command

    parser = argparse.ArgumentParser(prog="mpr", description="Multi-stage prompt-refinement gateway.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_serve_command(commands)
    add_up_command(commands)
    add_launch_commands(commands)
    add_adapters_commands(commands)
    add_knowledge_commands(commands)
    add_deploy_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = args.handler
    code: int = handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
