"""The shipped trained describer's record: trained on a split by article, scored on held-out articles."""

from __future__ import annotations

import json

from adapters.shipped import shipped_dir

SHIPPED = shipped_dir("demo-describer")


def test_shipped_describer_metrics_record_its_split_and_held_out_score() -> None:
    metrics = json.loads((SHIPPED / "metrics.json").read_text())
    assert metrics["role"] == "describer"
    assert metrics["base_digest"].startswith("sha256:")
    assert metrics["command"].startswith("mpr adapters train --role describer")
    assert metrics["data"].startswith("400 train / 80 heldout articles"), "split by article"
    # 16 prompts about held-out articles, greedy: the lead sentence(s) reproduced exactly in 75%.
    assert metrics["after"]["exact_fix_rate"] >= 0.5
