"""Engine-venv script (torch, transformers, peft): LoRA fine-tuning of a stage adapter on CPU, with metrics.

Run it as a file with the engine venv's python in isolated mode (`python -I adapters/train_lora.py ...`); it never
imports the gateway's packages. Its input is JSONL the gateway side rendered with `config.stage_messages`
(`{"messages": [...], "target": str, "kind": str}` per line), so the training prompts are exactly the serving
prompts; `adapters.training` prepares them, runs this script and prints the table.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer

IGNORE = -100


def log(message: str) -> None:
    print(message, flush=True)


def read_rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def encode(tokenizer: Any, row: dict[str, Any], max_len: int) -> tuple[list[int], list[int]] | None:
    """Token ids of the chat (stage messages + assistant target) and labels that keep only the target's tokens."""
    prompt = tokenizer.apply_chat_template(row["messages"], add_generation_prompt=True, tokenize=False)
    full = tokenizer.apply_chat_template(
        [*row["messages"], {"role": "assistant", "content": row["target"]}], tokenize=False
    )
    if not full.startswith(prompt):
        raise SystemExit("the chat template does not extend the generation prompt with the answer")
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(full[len(prompt) :].rstrip("\n"), add_special_tokens=False)["input_ids"]
    ids = prompt_ids + answer_ids
    if len(ids) > max_len:
        return None
    return ids, [IGNORE] * len(prompt_ids) + answer_ids


def batches(examples: list[tuple[list[int], list[int]]], size: int, pad: int) -> list[dict[str, torch.Tensor]]:
    """Right-padded batches (padding masked out of attention and loss)."""
    out: list[dict[str, torch.Tensor]] = []
    for start in range(0, len(examples), size):
        chunk = examples[start : start + size]
        width = max(len(ids) for ids, _ in chunk)
        ids = [a + [pad] * (width - len(a)) for a, _ in chunk]
        labels = [b + [IGNORE] * (width - len(b)) for _, b in chunk]
        mask = [[1] * len(a) + [0] * (width - len(a)) for a, _ in chunk]
        out.append(
            {"input_ids": torch.tensor(ids), "labels": torch.tensor(labels), "attention_mask": torch.tensor(mask)}
        )
    return out


def lr_at(step: int, total: int, peak: float) -> float:
    """Linear warm-up over the first 10% of steps, then cosine decay to 10% of the peak."""
    warm = max(1, total // 10)
    if step < warm:
        return peak * (step + 1) / warm
    progress = (step - warm) / max(1, total - warm)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def train(model: Any, data: list[tuple[list[int], list[int]]], args: argparse.Namespace, pad: int) -> list[float]:
    """AdamW over the LoRA weights; prints one progress line per step; returns the per-step losses."""
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)
    rng = random.Random(args.seed)
    plan = [batch for _ in range(args.epochs) for batch in batches(rng.sample(data, len(data)), args.batch_size, pad)]
    losses: list[float] = []
    started = time.monotonic()
    model.train()
    for step, batch in enumerate(plan):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, len(plan), args.lr)
        loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad()
        losses.append(round(float(loss), 4))
        per_step = (time.monotonic() - started) / (step + 1)
        eta = per_step * (len(plan) - step - 1)
        recent = sum(losses[-10:]) / len(losses[-10:])
        log(
            f"step {step + 1}/{len(plan)} loss {losses[-1]:.3f} (avg10 {recent:.3f})"
            f" {per_step:.1f}s/step eta {eta:.0f}s"
        )
    model.eval()
    return losses


def generate(model: Any, tokenizer: Any, rows: list[dict[str, Any]], batch_size: int) -> list[str]:
    """Greedy replies to each row's messages (left-padded batches), as the serving engine would decode them."""
    tokenizer.padding_side = "left"
    replies: list[str] = []
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        texts = [
            tokenizer.apply_chat_template(r["messages"], add_generation_prompt=True, tokenize=False) for r in chunk
        ]
        enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        longest = max(len(tokenizer(r["target"], add_special_tokens=False)["input_ids"]) for r in chunk)
        with torch.no_grad():
            out = model.generate(
                **enc, max_new_tokens=longest * 2 + 8, do_sample=False, pad_token_id=tokenizer.pad_token_id
            )
        width = enc["input_ids"].shape[1]
        replies += [str(tokenizer.decode(seq[width:], skip_special_tokens=True)).strip() for seq in out]
    return replies


def score(rows: list[dict[str, Any]], replies: list[str]) -> dict[str, Any]:
    """Exact-fix rate on the noisy prompts, changed rate on the clean ones (raw replies, stripped)."""
    noisy = [(r, o) for r, o in zip(rows, replies, strict=True) if r["kind"] != "clean"]
    clean = [(r, o) for r, o in zip(rows, replies, strict=True) if r["kind"] == "clean"]
    fixed = sum(1 for r, o in noisy if o == r["target"].strip())
    changed = sum(1 for r, o in clean if o != r["target"].strip())
    return {
        "noisy": len(noisy),
        "exact_fix_rate": round(fixed / len(noisy), 4) if noisy else None,
        "clean": len(clean),
        "changed_rate": round(changed / len(clean), 4) if clean else None,
        "samples": [{"target": r["target"], "reply": o} for r, o in list(zip(rows, replies, strict=True))[:8]],
    }


def evaluate(model: Any, tokenizer: Any, rows: list[dict[str, Any]], label: str, batch_size: int) -> dict[str, Any]:
    started = time.monotonic()
    result = score(rows, generate(model, tokenizer, rows, batch_size))
    result["seconds"] = round(time.monotonic() - started, 1)
    log(
        f"{label}: exact-fix {result['exact_fix_rate']} changed-on-clean {result['changed_rate']}"
        f" ({result['seconds']}s)"
    )
    return result


def build_model(args: argparse.Namespace) -> Any:
    base = AutoModelForCausalLM.from_pretrained(str(args.base), dtype=torch.float32)
    targets = [t.strip() for t in str(args.targets).split(",") if t.strip()]
    config = LoraConfig(
        r=args.rank, lora_alpha=args.alpha, target_modules=targets, lora_dropout=0.0, task_type="CAUSAL_LM"
    )
    return get_peft_model(base, config)


def save(model: PeftModel, out: Path, metrics: dict[str, Any]) -> None:
    """Write the adapter into a sibling folder, then rename it onto `out` (never a half-written adapter)."""
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(str(partial), safe_serialization=True)
    (partial / "README.md").unlink(missing_ok=True)
    (partial / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    shutil.rmtree(out, ignore_errors=True)
    partial.rename(out)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", type=Path, required=True)
    parser.add_argument("--train", type=Path, required=True, help="rendered training rows (JSONL)")
    parser.add_argument("--heldout", type=Path, required=True, help="rendered held-out rows (JSONL)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--alpha", type=int, default=16)
    parser.add_argument("--targets", default="q_proj,v_proj")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--max-seq-len", type=int, default=320)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-before", action="store_true", help="do not evaluate the base before training")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    tokenizer = AutoTokenizer.from_pretrained(str(args.base))
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    encoded = [encode(tokenizer, row, args.max_seq_len) for row in read_rows(args.train)]
    data = [e for e in encoded if e is not None]
    heldout = read_rows(args.heldout)
    log(f"{len(data)} training examples ({len(encoded) - len(data)} longer than {args.max_seq_len} tokens dropped)")
    model = build_model(args)
    metrics: dict[str, Any] = {"options": {k: str(v) for k, v in vars(args).items()}}
    if not args.skip_before:
        with model.disable_adapter():
            metrics["before"] = evaluate(model, tokenizer, heldout, "before (base)", args.batch_size)
    started = time.monotonic()
    metrics["losses"] = train(model, data, args, tokenizer.pad_token_id)
    metrics["train_seconds"] = round(time.monotonic() - started, 1)
    metrics["train_examples"] = len(data)
    log(f"trained in {metrics['train_seconds']}s")
    metrics["after"] = evaluate(model, tokenizer, heldout, "after (adapter)", args.batch_size)
    save(model, args.out, metrics)
    log(f"adapter saved: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
