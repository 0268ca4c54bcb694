"""The HHEM harness's arithmetic with deterministic judges: rates, paired difference, bootstrap intervals."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from benchmarks.hhem import DATA, SourcedPrompt, bootstrap, load_items, mean, score_arms
from benchmarks.judges import OverlapJudge


class TableJudge:
    """Scores looked up by hypothesis text: the harness must only count and resample."""

    name = "table"

    def __init__(self, scores: dict[str, float]) -> None:
        self.scores = scores
        self.calls: list[list[tuple[str, str]]] = []

    def score(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        self.calls.append(list(pairs))
        return [self.scores[hypothesis] for _, hypothesis in pairs]


ITEMS = [SourcedPrompt(f"p{i}", f"source {i}", f"prompt {i}") for i in range(10)]


def answers(prefix: str, bad: set[int]) -> list[str]:
    return [f"{prefix}-{'bad' if i in bad else 'good'}-{i}" for i in range(10)]


def table_for(*arms: list[str]) -> dict[str, float]:
    return {a: (0.1 if "-bad-" in a else 0.9) for arm in arms for a in arm}


def test_rates_and_paired_difference() -> None:
    original, refined = answers("o", {0, 1, 2, 3}), answers("r", {0})
    judge = TableJudge(table_for(original, refined))
    report = score_arms(ITEMS, {"original": original, "refined": refined}, judge, resamples=500)
    assert report.arms["original"].rate == pytest.approx(0.4)
    assert report.arms["refined"].rate == pytest.approx(0.1)
    assert report.difference.rate == pytest.approx(-0.3)
    assert judge.calls[0][0] == ("source 0", "o-bad-0"), "each answer is judged against its own source"


def test_intervals_contain_the_rate_and_stay_within_bounds() -> None:
    original, refined = answers("o", {0, 1, 2, 3}), answers("r", {0})
    report = score_arms(ITEMS, {"original": original, "refined": refined}, TableJudge(table_for(original, refined)))
    for interval in report.arms.values():
        assert 0.0 <= interval.low <= interval.rate <= interval.high <= 1.0
        assert interval.low < interval.high
    assert report.difference.low <= report.difference.rate <= report.difference.high <= 0.0


def test_threshold_decides_what_counts_as_a_hallucination() -> None:
    original = answers("o", set())
    judge = TableJudge(dict.fromkeys(original, 0.6))
    strict = score_arms(ITEMS, {"original": original, "refined": original}, judge, threshold=0.7, resamples=100)
    lenient = score_arms(ITEMS, {"original": original, "refined": original}, judge, threshold=0.5, resamples=100)
    assert strict.arms["original"].rate == 1.0
    assert lenient.arms["original"].rate == 0.0


def test_bootstrap_of_a_constant_is_that_constant() -> None:
    assert bootstrap([1.0] * 20, mean, resamples=200, seed=1) == bootstrap([1.0] * 20, mean, 200, 2)
    interval = bootstrap([1.0] * 20, mean, resamples=200, seed=1)
    assert (interval.rate, interval.low, interval.high) == (1.0, 1.0, 1.0)


def test_bootstrap_is_seeded_and_narrows_with_more_data() -> None:
    small = [1.0, 0.0] * 5
    large = [1.0, 0.0] * 200
    assert bootstrap(small, mean, 1000, 7) == bootstrap(small, mean, 1000, 7)
    wide, narrow = bootstrap(small, mean, 1000, 7), bootstrap(large, mean, 1000, 7)
    assert narrow.high - narrow.low < wide.high - wide.low
    assert narrow.low < 0.5 < narrow.high


def test_mismatched_answer_count_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"shorter|longer"):
        score_arms(ITEMS, {"original": ["x"], "refined": ["y"]}, OverlapJudge())


def test_overlap_judge_is_deterministic() -> None:
    judge = OverlapJudge()
    scores = judge.score([("The tower is 330 metres tall.", "It is 330 metres tall."), ("Paris.", "Berlin is big.")])
    assert scores == [1.0, 0.0]


def test_bundled_prompt_set_loads() -> None:
    items = load_items(DATA)
    assert len(items) >= 10
    assert all(item.source and item.prompt for item in items)
