"""The fake vLLM worker behind vLLM's own command line, so `mpr launch worker` can run it in place of the engine.

A shim module named `vllm.entrypoints.openai.api_server` (written by a test) calls `main()`; the argv is what
`launch.plan` builds for a real server. Unknown engine options are ignored.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from benchmarks.fakes.vllm_server import main as serve


def translate(argv: list[str], environ: dict[str, str]) -> list[str]:
    """vLLM server options -> the fake server's options."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--model", required=True)
    parser.add_argument("--served-model-name", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", default="8000")
    parser.add_argument("--max-model-len", default="2048")
    parser.add_argument("--lora-modules", nargs="*", default=[])
    parser.add_argument("--max-loras", default="1")
    known, _ = parser.parse_known_args(argv)
    out = ["--base", known.served_model_name, "--base-path", known.model, "--host", known.host, "--port", known.port,
           "--max-model-len", known.max_model_len, "--max-loras", known.max_loras]  # fmt: skip
    for module in known.lora_modules:
        spec = json.loads(module)
        out += ["--adapter", f"{spec['name']}={spec['path']}"]
    if environ.get("VLLM_API_KEY"):
        out += ["--api-key", environ["VLLM_API_KEY"]]
    return out


def main() -> None:
    serve(translate(sys.argv[1:], dict(os.environ)))
