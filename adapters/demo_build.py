"""Engine-venv script (torch, transformers, peft): GGUF -> HF float32 folder, and seeded demo LoRA adapters.

Run it as a file with the engine venv's python in isolated mode (`python -I adapters/demo_build.py ...`); it
never imports the gateway's packages. `adapters.demo` decides what is missing and calls it.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig, PreTrainedModel

CHECK_PROMPT = "Write one sentence about the sea."
CHECK_TOKENS = 12


def log(message: str) -> None:
    print(message, flush=True)


def fresh_dir(final: Path) -> Path:
    """An empty sibling folder to build into; renamed onto `final` when complete (no half-built outputs)."""
    partial = final.with_name(final.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    return partial


def publish(partial: Path, final: Path) -> None:
    shutil.rmtree(final, ignore_errors=True)
    partial.rename(final)


def convert_model(gguf: Path, out: Path) -> None:
    """Dequantize the GGUF checkpoint into a plain float32 safetensors folder with its tokenizer."""
    started = time.monotonic()
    log(f"converting {gguf.name} -> {out}")
    quant = GgufConfig(gguf_file=str(gguf), dequantize=True)
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=str(gguf), quantization_config=quant, dtype=torch.float32
    )
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=str(gguf))
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model = model.to(torch.float32)
    partial = fresh_dir(out)
    model.save_pretrained(str(partial), safe_serialization=True)
    tokenizer.save_pretrained(str(partial))
    publish(partial, out)
    params = sum(p.numel() for p in model.parameters())
    log(f"model saved: {params / 1e6:.0f}M parameters, {time.monotonic() - started:.1f}s")


def load_base(model_dir: Path) -> PreTrainedModel:
    model: PreTrainedModel = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32)
    model.eval()
    return model


def seeded_init(model: PeftModel, seed: int, std: float) -> None:
    """Deterministic A and B (B non-zero, unlike peft's default) so the adapter visibly changes outputs."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in sorted(model.named_parameters()):
            if "lora_A" in name or "lora_B" in name:
                values = torch.randn(param.shape, generator=generator, dtype=torch.float32) * std
                param.copy_(values)


def build_adapter(model_dir: Path, out: Path, seed: int, args: argparse.Namespace) -> None:
    started = time.monotonic()
    targets = [t.strip() for t in str(args.targets).split(",") if t.strip()]
    config = LoraConfig(
        r=args.rank, lora_alpha=args.alpha, target_modules=targets, lora_dropout=0.0, task_type="CAUSAL_LM"
    )
    peft_model = get_peft_model(load_base(model_dir), config)
    seeded_init(peft_model, seed, args.std)
    partial = fresh_dir(out)
    peft_model.save_pretrained(str(partial), safe_serialization=True)
    publish(partial, out)
    log(f"adapter {out.name}: r={args.rank} alpha={args.alpha} seed={seed}, {time.monotonic() - started:.1f}s")


def greedy_text(model: Any, tokenizer: Any, prompt: str) -> str:
    """Greedy continuation of a one-message chat (model: a causal LM or PeftModel; tokenizer: its tokenizer)."""
    messages = [{"role": "user", "content": prompt}]
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    with torch.no_grad():
        output = model.generate(**ids, max_new_tokens=CHECK_TOKENS, do_sample=False)
    prompt_len = ids["input_ids"].shape[1]
    return str(tokenizer.decode(output[0][prompt_len:], skip_special_tokens=True))


def check_adapters(model_dir: Path, adapter_dirs: list[Path]) -> None:
    """Fail unless each adapter's greedy continuation differs from the base's (a zero delta is useless)."""
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    base_text = greedy_text(load_base(model_dir), tokenizer, CHECK_PROMPT)
    log(f"base   : {base_text!r}")
    for adapter_dir in adapter_dirs:
        with_adapter = PeftModel.from_pretrained(load_base(model_dir), str(adapter_dir))
        text = greedy_text(with_adapter, tokenizer, CHECK_PROMPT)
        log(f"{adapter_dir.name}: {text!r}")
        if text == base_text:
            raise SystemExit(f"adapter {adapter_dir} does not change the greedy output; raise --std")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gguf", type=Path, help="convert this GGUF file into --model-dir first")
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--adapters-dir", type=Path, required=True)
    parser.add_argument("--adapter", action="append", default=[], metavar="NAME:SEED")
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--alpha", type=int, default=16)
    parser.add_argument("--targets", default="q_proj,v_proj")
    parser.add_argument("--std", type=float, default=0.08)
    parser.add_argument("--check", action="store_true", help="compare greedy outputs base vs adapters")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    torch.manual_seed(0)
    if args.gguf is not None:
        convert_model(args.gguf, args.model_dir)
    built: list[Path] = []
    for item in args.adapter:
        name, _, seed = str(item).partition(":")
        out = args.adapters_dir / name
        build_adapter(args.model_dir, out, int(seed or 0), args)
        built.append(out)
    if args.check and built:
        check_adapters(args.model_dir, built)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
