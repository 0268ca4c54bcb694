"""vLLM's LoRA sizing rules: accepted `--max-lora-rank` values and the rank a set of adapters needs."""

from __future__ import annotations

from collections.abc import Iterable

# The values vLLM 0.32 accepts for --max-lora-rank (anything else is rejected at startup).
VLLM_LORA_RANKS: tuple[int, ...] = (1, 8, 16, 32, 64, 128, 256, 320, 512)


class LoraRankError(ValueError):
    """A rank larger than any value vLLM accepts."""


def round_up_rank(rank: int) -> int:
    """The smallest accepted --max-lora-rank that is >= `rank`."""
    for allowed in VLLM_LORA_RANKS:
        if allowed >= rank:
            return allowed
    raise LoraRankError(f"LoRA rank {rank} exceeds vLLM's largest --max-lora-rank {VLLM_LORA_RANKS[-1]}")


def max_lora_rank(ranks: Iterable[int]) -> int:
    """The --max-lora-rank a server needs for adapters of these ranks (vLLM's default 16 when none)."""
    values = list(ranks)
    return round_up_rank(max(values)) if values else 16
