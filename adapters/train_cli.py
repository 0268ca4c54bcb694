"""`mpr adapters train|data`: train a stage adapter on CPU, or write the cleaner's offline data set."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from adapters.cleaner_data import DataSpec, generate, summary, write_jsonl
from adapters.demo import MODEL_FOLDER, DemoBuildError, build_demo, default_demo_dir
from adapters.progress import Progress
from adapters.toolchain import EngineToolchain, ToolchainError
from adapters.training import DEFAULT_CLUSTER, ROLES, TrainingError, TrainOptions, metrics_table, train_adapter
from config.environment import MprEnvironment
from config.loading import ConfigError


def options_from_args(args: argparse.Namespace, env: MprEnvironment) -> TrainOptions:
    base = args.base or default_demo_dir(env) / MODEL_FOLDER
    targets = tuple(t.strip() for t in str(args.targets).split(",") if t.strip())
    return TrainOptions(
        role=args.role,
        base=base,
        out=args.out,
        data=args.data,
        cluster=args.cluster,
        rank=args.rank,
        alpha=args.alpha,
        targets=targets,
        epochs=args.epochs,
        max_seq_len=args.max_seq_len,
        lr=args.lr,
        batch_size=args.batch_size,
        seed=args.seed,
        train_limit=args.train_limit,
        holdout=args.holdout,
        threads=args.threads,
        skip_before=args.skip_before,
        index=args.index,
    )


def _train(args: argparse.Namespace) -> int:
    env = MprEnvironment()
    options = options_from_args(args, env)
    progress = Progress()
    if args.base is not None and not (options.base / "config.json").is_file():
        print(f"error: no base model at {options.base}", file=sys.stderr)
        return 2
    try:
        if args.base is None:
            build_demo(env, None, progress)  # the default base is the demo model: build it first on a clean clone
        python = EngineToolchain.from_environment(env).ensure(progress)
        metrics = train_adapter(options, python, env, progress)
    except (ToolchainError, TrainingError, ConfigError, DemoBuildError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(metrics_table(metrics))
    print(f"adapter: {options.out}")
    return 0


def _data(args: argparse.Namespace) -> int:
    if args.role != "cleaner":
        print(f"error: no offline data recipe for role {args.role!r}", file=sys.stderr)
        return 2
    examples = generate(DataSpec(seed=args.seed, prompts=args.prompts))
    digest = write_jsonl(examples, args.out)
    print(f"{args.out}: {summary(examples)} (sha256 {digest[:12]})")
    return 0


def _add_train(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    defaults = TrainOptions(role="cleaner", base=Path(), out=Path())
    train = sub.add_parser("train", help="LoRA fine-tuning of a stage adapter on CPU (engine venv), with metrics")
    train.add_argument("--role", choices=ROLES, default="cleaner")
    train.add_argument("--base", type=Path, default=None, help="base model folder (default: the demo model)")
    train.add_argument("--data", type=Path, default=None, help="JSONL from `mpr adapters data` (default: generated)")
    train.add_argument("--out", type=Path, required=True, help="adapter folder to write")
    train.add_argument("--cluster", type=Path, default=DEFAULT_CLUSTER, help="cluster file with the stage prompt")
    train.add_argument("--rank", type=int, default=defaults.rank)
    train.add_argument("--alpha", type=int, default=defaults.alpha)
    train.add_argument("--targets", default=",".join(defaults.targets), help="comma-separated module names")
    train.add_argument("--epochs", type=int, default=defaults.epochs)
    train.add_argument("--max-seq-len", type=int, default=None, help="longest example in tokens (default: per role)")
    train.add_argument("--index", type=Path, default=None, help="describer: knowledge index (default: the cluster's)")
    train.add_argument("--lr", type=float, default=defaults.lr)
    train.add_argument("--batch-size", type=int, default=defaults.batch_size)
    train.add_argument("--seed", type=int, default=defaults.seed)
    train.add_argument("--train-limit", type=int, default=defaults.train_limit, help="training examples (0: all)")
    train.add_argument("--holdout", type=int, default=defaults.holdout, help="held-out examples to score (0: all)")
    train.add_argument("--threads", type=int, default=defaults.threads, help="torch CPU threads")
    train.add_argument("--skip-before", action="store_true", help="do not score the base model first")
    train.set_defaults(handler=_train)


def add_train_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `mpr adapters train` and `mpr adapters data`."""
    _add_train(sub)
    data = sub.add_parser("data", help="write the cleaner's offline training data (JSONL with a held-out split)")
    data.add_argument("--role", choices=("cleaner",), default="cleaner")
    data.add_argument("--out", type=Path, required=True)
    data.add_argument("--seed", type=int, default=DataSpec.seed)
    data.add_argument("--prompts", type=int, default=DataSpec.prompts, help="distinct clean prompts")
    data.set_defaults(handler=_data)
