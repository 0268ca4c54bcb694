"""`mpr knowledge ...`: build an index from a JSONL corpus, and try retrieval on a prompt."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from adapters.knowledge.build import build_index
from adapters.knowledge.errors import KnowledgeError
from adapters.knowledge.index import KnowledgeIndex
from adapters.knowledge.records import JsonlCorpus
from adapters.progress import Progress


def _build(args: argparse.Namespace) -> int:
    try:
        stats = build_index(JsonlCorpus(args.source), args.out, Progress(), args.licence)
    except KnowledgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"{stats.path}: {stats.articles:,} articles, {stats.names:,} names, {stats.words:,} words,"
        f" {stats.size_bytes / 1e6:.1f} MB in {stats.seconds:.1f}s"
    )
    return 0


def _query(args: argparse.Namespace) -> int:
    try:
        index = KnowledgeIndex.open(args.index)
    except KnowledgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        passages = index.retrieve(args.prompt, args.limit)
    finally:
        index.close()
    if not passages:
        print("(no passage: the prompt needs no background or names nothing in the index)")
    for passage in passages:
        mark = "" if args.min_score is None or passage.score >= args.min_score else "  (below min score)"
        print(f"{passage.score:.3f}  {passage.match.value:<5}  {passage.title}{mark}")
        print(f"       {passage.text[: args.chars]}{'...' if len(passage.text) > args.chars else ''}")
    return 0


def add_knowledge_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `mpr knowledge build|query`."""
    group = commands.add_parser("knowledge", help="the describer's encyclopedia index: build one, query it")
    sub = group.add_subparsers(dest="knowledge_command", required=True, metavar="ACTION")

    build = sub.add_parser(
        "build",
        help="build a one-file index from a JSONL corpus",
        description='Each line is {"title": ..., "text": ..., "aliases": [...]} (aliases optional), e.g. a '
        "Wikipedia dump extracted with wikiextractor. Streams (constant memory); a bad line stops the build "
        "with its line number and leaves nothing behind.",
    )
    build.add_argument("--from", dest="source", type=Path, required=True, help="JSONL corpus file")
    build.add_argument("--out", type=Path, required=True, help="index file to write (replaced atomically)")
    build.add_argument("--licence", default="", help="the corpus's licence and attribution, stored in the index")
    build.set_defaults(handler=_build)

    query = sub.add_parser("query", help="show the passages an index retrieves for a prompt")
    query.add_argument("--index", type=Path, required=True, help="index file")
    query.add_argument("--limit", type=int, default=3, help="passages to show")
    query.add_argument("--min-score", type=float, default=None, help="mark passages below this score")
    query.add_argument("--chars", type=int, default=160, help="characters of each passage to print")
    query.add_argument("prompt")
    query.set_defaults(handler=_query)
