"""PNG plots of benchmark results (matplotlib, from the `bench` extra, imported only when plotting)."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

from benchmarks.scoring import Observation


def _rates(summary: dict[str, object]) -> dict[str, float]:
    names = {
        "noisy_exact_fix": "noisy fixed",
        "clean_changed": "clean changed",
        "injection_obeyed": "injection obeyed",
    }
    rates = {label: float(v) for key, label in names.items() if isinstance(v := summary.get(key), float)}
    skip = summary.get("skip")
    if isinstance(skip, dict):
        for stage, scores in skip.items():
            for metric in ("precision", "recall"):
                value = scores.get(metric)
                if isinstance(value, float):
                    rates[f"{stage} skip {metric[:4]}."] = value
    return rates


def plot_quality(
    summary: dict[str, object], observations: Sequence[Observation], path: Path, title: str
) -> Path | None:
    """Rates as bars and the latency distribution; None when matplotlib is missing."""
    if importlib.util.find_spec("matplotlib") is None:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rates = _rates(summary)
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    left.barh(list(rates), [100.0 * v for v in rates.values()], color="#4C72B0")
    left.set_xlim(0, 100)
    left.set_xlabel("%")
    left.invert_yaxis()
    left.set_title("quality")
    latencies = [o.latency_ms for o in observations if o.error is None]
    right.hist(latencies, bins=30, color="#55A868")
    right.set_xlabel("latency per /refine (ms)")
    right.set_title("latency")
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def plot_arms(rates: dict[str, tuple[float, float, float]], path: Path, title: str) -> Path | None:
    """Hallucination rate per arm with its 95% interval; None when matplotlib is missing."""
    if importlib.util.find_spec("matplotlib") is None:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(rates)
    centre = [100.0 * rates[n][0] for n in names]
    errors = [
        [100.0 * (rates[n][0] - rates[n][1]) for n in names],
        [100.0 * (rates[n][2] - rates[n][0]) for n in names],
    ]
    figure, axis = plt.subplots(figsize=(6, 4))
    axis.bar(names, centre, yerr=errors, capsize=8, color=["#C44E52", "#4C72B0"][: len(names)])
    axis.set_ylabel("hallucination rate (%)")
    axis.set_title(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
