"""`mpr adapters train`: render the stage's exact serving messages, run the engine-venv trainer, print the table."""

from __future__ import annotations

import hashlib
import json
import random
import shlex
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapters import describer_data
from adapters.base_digest import model_digest
from adapters.cleaner_data import CleanerExample, DataSpec, generate, read_jsonl, summary, write_jsonl
from adapters.jsonl_examples import jsonl_text, text_sha256
from adapters.progress import CommandFailedError, Progress
from config.environment import MprEnvironment, process_environ
from config.loading import LOCAL_CLUSTER, load_cluster
from config.stage_messages import render_stage_messages

METRICS_FILE = "metrics.json"
DEFAULT_CLUSTER = LOCAL_CLUSTER
ROLES = ("cleaner", "describer")
# Longest training sequence per role: a describer example carries up to three passages.
ROLE_MAX_SEQ_LEN = {"cleaner": 320, "describer": 768}


class TrainingError(Exception):
    """Training could not run or produced no adapter; the message says why."""


@dataclass(frozen=True)
class TrainOptions:
    """What to train on and how; the defaults train the demo cleaner in minutes on 2 CPU cores."""

    role: str
    base: Path
    out: Path
    data: Path | None = None  # generated (with `seed`) when absent
    cluster: Path = DEFAULT_CLUSTER  # the stage's system prompt comes from here, as the gateway loads it
    rank: int = 8
    alpha: int = 16
    targets: tuple[str, ...] = ("q_proj", "v_proj")
    epochs: int = 1
    max_seq_len: int | None = None  # None: the role's default (ROLE_MAX_SEQ_LEN)
    lr: float = 2e-3
    batch_size: int = 8
    seed: int = 0
    train_limit: int = 320  # training examples drawn from the train split (0: all)
    holdout: int = 64  # held-out examples evaluated before/after (0: all)
    threads: int = 2
    skip_before: bool = False
    index: Path | None = None  # the describer's knowledge index (default: the cluster's `knowledge.index`)

    @property
    def seq_len(self) -> int:
        return self.max_seq_len or ROLE_MAX_SEQ_LEN.get(self.role, 320)


def stage_system_prompt(cluster_file: Path, role: str, env: MprEnvironment) -> str:
    """The stage's system prompt exactly as the gateway loads it from the cluster file."""
    cluster = load_cluster(cluster_file, env, require_secrets=False)
    prompt = next((s.system_prompt for name, s in cluster.stages.items() if name == role), None)
    if not prompt:
        raise TrainingError(f"{cluster_file}: no stage {role!r} with a system prompt")
    return prompt


def render_rows(examples: list[CleanerExample], system_prompt: str) -> list[dict[str, Any]]:
    """One trainer row per example: the messages the gateway sends (the shared renderer) and the target."""
    return [
        {"messages": render_stage_messages(system_prompt, e.noisy), "target": e.clean, "kind": e.kind} for e in examples
    ]


def pick(examples: list[CleanerExample], split: str, limit: int, seed: int) -> list[CleanerExample]:
    chosen = [e for e in examples if e.split == split]
    if 0 < limit < len(chosen):
        chosen = random.Random(seed).sample(chosen, limit)
    return chosen


def load_examples(options: TrainOptions, work: Path, progress: Progress) -> tuple[list[CleanerExample], str]:
    """The data file's examples (generated into `work` when no --data) and its sha256."""
    if options.data is None:
        path = work / "cleaner-data.jsonl"
        digest = write_jsonl(generate(DataSpec()), path)
        progress.say(f"generated cleaner data: {path}")
    else:
        path = options.data
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    examples = read_jsonl(path)
    progress.say(f"data: {summary(examples)}")
    return examples, digest


def write_rows(rows: list[dict[str, Any]], path: Path) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def trainer_argv(python: Path, options: TrainOptions, train: Path, heldout: Path) -> list[str]:
    argv = [str(python), "-I", str(Path(__file__).with_name("train_lora.py"))]
    argv += ["--base", str(options.base), "--train", str(train), "--heldout", str(heldout), "--out", str(options.out)]
    argv += ["--rank", str(options.rank), "--alpha", str(options.alpha), "--targets", ",".join(options.targets)]
    argv += ["--epochs", str(options.epochs), "--max-seq-len", str(options.seq_len), "--lr", str(options.lr)]
    argv += ["--batch-size", str(options.batch_size), "--seed", str(options.seed), "--threads", str(options.threads)]
    return argv + (["--skip-before"] if options.skip_before else [])


def reproduce_command(options: TrainOptions) -> str:
    """The `mpr adapters train` line that rebuilds this adapter (recorded in its metrics)."""
    parts = ["mpr", "adapters", "train", "--role", options.role, "--out", str(options.out)]
    parts += ["--rank", str(options.rank), "--alpha", str(options.alpha), "--targets", ",".join(options.targets)]
    parts += ["--epochs", str(options.epochs), "--lr", str(options.lr), "--seed", str(options.seed)]
    parts += ["--train-limit", str(options.train_limit), "--holdout", str(options.holdout)]
    parts += ["--max-seq-len", str(options.max_seq_len)] if options.max_seq_len else []
    return shlex.join(parts + (["--data", str(options.data)] if options.data else []))


def finish_metrics(options: TrainOptions, data_sha256: str, data_summary: str) -> dict[str, Any]:
    """Add what only the gateway side knows (base digest, data, command, size) to the trainer's metrics file."""
    path = options.out / METRICS_FILE
    metrics: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    weights = options.out / "adapter_model.safetensors"
    metrics.update(
        role=options.role,
        base_digest=model_digest(options.base),
        base_name=options.base.name,
        data_sha256=data_sha256,
        data=data_summary,
        command=reproduce_command(options),
        adapter_bytes=weights.stat().st_size,
        options={k: v for k, v in metrics.get("options", {}).items() if k not in ("train", "heldout", "out")},
    )
    path.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    return metrics


def _rate(result: dict[str, Any] | None, key: str) -> str:
    value = None if result is None else result.get(key)
    return "-" if value is None else f"{100 * float(value):5.1f}%"


def metrics_table(metrics: dict[str, Any]) -> str:
    """The before/after table of a metrics file (held-out split, greedy, transformers)."""
    after = metrics.get("after") or {}
    if metrics.get("role") == "describer":  # every held-out row is a prompt about an unseen article
        head = f"held-out: {after.get('noisy', 0)} prompts about unseen articles (greedy, transformers)"
        columns = f"{'':16}{'exact lead':>20}{'':>18}"
    else:
        head = f"held-out: {after.get('noisy', 0)} noisy, {after.get('clean', 0)} clean prompts (greedy, transformers)"
        columns = f"{'':16}{'exact-fix (noisy)':>20}{'changed (clean)':>18}"
    lines = [head, columns]
    for label, key in (("before (base)", "before"), ("after (adapter)", "after")):
        result = metrics.get(key)
        lines.append(f"{label:16}{_rate(result, 'exact_fix_rate'):>20}{_rate(result, 'changed_rate'):>18}")
    size = int(metrics.get("adapter_bytes", 0)) / 1e6
    lines.append(
        f"training: {metrics.get('train_seconds')}s for {metrics.get('train_examples')} examples; {size:.1f} MB"
    )
    return "\n".join(lines)


Rows = list[dict[str, Any]]


def cleaner_rows(
    options: TrainOptions, system_prompt: str, work: Path, progress: Progress
) -> tuple[Rows, Rows, str, str]:
    examples, data_sha = load_examples(options, work, progress)
    train = render_rows(pick(examples, "train", options.train_limit, options.seed), system_prompt)
    heldout = render_rows(pick(examples, "heldout", options.holdout, options.seed), system_prompt)
    return train, heldout, data_sha, summary(examples)


def describer_rows(examples: list[describer_data.DescriberExample], system_prompt: str) -> list[dict[str, Any]]:
    """The describer's serving messages (prompt and passages, the shared renderer) -> its lead sentence(s)."""
    return [
        {
            "messages": render_stage_messages(system_prompt, e.prompt, e.passages),
            "target": e.target,
            "kind": "typo" if e.typo else "plain",
        }
        for e in examples
    ]


def describer_spec(cluster_file: Path, env: MprEnvironment, seed: int) -> tuple[describer_data.DescriberSpec, Path]:
    """Generation settings that match how the gateway retrieves and sends passages (the cluster's knowledge)."""
    knowledge = load_cluster(cluster_file, env, require_secrets=False).knowledge
    if knowledge is None:
        raise TrainingError(f"{cluster_file}: no knowledge section (the describer's data comes from its index)")
    spec = describer_data.DescriberSpec(
        seed=seed + describer_data.DescriberSpec.seed,
        top_k=knowledge.top_k,
        min_score=knowledge.min_score,
        max_passage_chars=knowledge.max_passage_chars,
    )
    return spec, Path(knowledge.index)


def load_describer(options: TrainOptions, env: MprEnvironment, progress: Progress) -> tuple[list[Any], str]:
    if options.data is not None:
        return describer_data.read_jsonl(options.data), hashlib.sha256(options.data.read_bytes()).hexdigest()
    spec, index = describer_spec(options.cluster, env, options.seed)
    examples = describer_data.generate(options.index or index, spec)
    return examples, text_sha256(jsonl_text(examples))


def role_rows(
    options: TrainOptions, system_prompt: str, work: Path, env: MprEnvironment, progress: Progress
) -> tuple[Rows, Rows, str, str]:
    """Rendered training and held-out rows for the role, the data's sha256 and summary."""
    if options.role == "cleaner":
        return cleaner_rows(options, system_prompt, work, progress)
    examples, data_sha = load_describer(options, env, progress)
    progress.say(f"data: {describer_data.summary(examples)}")
    train = [e for e in examples if e.split == "train"][: options.train_limit or None]
    heldout = [e for e in examples if e.split == "heldout"][: options.holdout or None]
    return (
        describer_rows(train, system_prompt),
        describer_rows(heldout, system_prompt),
        data_sha,
        describer_data.summary(examples),
    )


def train_adapter(options: TrainOptions, python: Path, env: MprEnvironment, progress: Progress) -> dict[str, Any]:
    """Prepare the rendered rows, run the engine-venv trainer (streamed), complete and return the metrics."""
    if options.role not in ROLES:
        raise TrainingError(f"no offline data recipe for role {options.role!r} (only {', '.join(ROLES)})")
    started = time.monotonic()
    system_prompt = stage_system_prompt(options.cluster, options.role, env)
    child_env = {**process_environ(), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    with tempfile.TemporaryDirectory(prefix="mpr-train-") as tmp:
        work = Path(tmp)
        train_rows, heldout_rows, data_sha, data_summary = role_rows(options, system_prompt, work, env, progress)
        train, heldout = work / "train.jsonl", work / "heldout.jsonl"
        write_rows(train_rows, train)
        write_rows(heldout_rows, heldout)
        try:
            progress.run("training LoRA adapter", trainer_argv(python, options, train, heldout), env=child_env)
        except CommandFailedError as exc:
            raise TrainingError(str(exc)) from exc
    metrics = finish_metrics(options, data_sha, data_summary)
    progress.say(f"trained {options.out} in {time.monotonic() - started:.0f}s")
    return metrics
