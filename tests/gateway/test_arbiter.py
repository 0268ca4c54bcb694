"""The arbiter: cleaner need from spelling and surface cues, describer need from entities vs tasks."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import Cluster, MprEnvironment, StageName, load_cluster
from config.cluster import ArbiterConfig, SpellingConfig
from gateway.pipeline import arbiter
from gateway.pipeline.lexicon import Lexicon
from gateway.pipeline.outcomes import StageDecision

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"
CONFIG = ArbiterConfig()


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return Lexicon.load(SpellingConfig())


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Cluster:
    import os

    os.environ.setdefault("MPR_WORKER_API_KEY", "k")
    return load_cluster(CONFIG_DIR / "cluster.example.yaml", MprEnvironment(home=tmp_path_factory.mktemp("h")))


def decide(
    prompt: str, example: Cluster, lexicon: Lexicon, config: ArbiterConfig = CONFIG
) -> dict[StageName, StageDecision]:
    return arbiter.decide(arbiter.assess(prompt, lexicon, config), example.stages, config)


@pytest.mark.parametrize(
    "prompt",
    [
        "What is the capital of France?",
        "Explain how photosynthesis works.",
        "Summarise the attached report.",
        "Best pizza places in Naples",
        "Compare PostgreSQL and MySQL for a small web shop.",
        'Translate "Guten Morgen, wie gehts" into English.',
        "Fix this: `pritn(helo)` raises a NameError.",
        "Read https://exmaple.com/teh-docs and tell me what changed.",
        "Why did NASA cancel the Constellation program in 2010?",
        "Kubernetes or Nomad: which one should a three-person team run?",
    ],
)
def test_clean_prompts_skip_the_cleaner(prompt: str, example: Cluster, lexicon: Lexicon) -> None:
    decision = decide(prompt, example, lexicon)["cleaner"]
    assert not decision.run, decision.reason
    assert decision.reason.startswith("looks clean")


@pytest.mark.parametrize(
    ("prompt", "cue"),
    [
        ("What is the captial of France?", "misspelled (captial)"),
        ("Explain how photosyntesis works.", "misspelled (photosyntesis)"),
        ("what is the capital of france", "starts lower-case"),
        ("Why dont plants grow in the dark?", "missing apostrophe"),
        ("Can i ask about Rome?", "lower-case 'i'"),
        ("Tell me about Paris  and Lyon.", "doubled spaces"),
        ("Wow, that is amazing!!!", "repeated punctuation"),
        ("Write a note for my grandma who turns 90 next week..", "repeated punctuation"),
        ("Can u explain black holes?", "chat shorthand"),
    ],
)
def test_noisy_prompts_run_the_cleaner_with_the_reason(
    prompt: str, cue: str, example: Cluster, lexicon: Lexicon
) -> None:
    decision = decide(prompt, example, lexicon)["cleaner"]
    assert decision.run
    assert cue in decision.reason


def test_code_urls_numbers_quotes_and_names_are_not_typos(lexicon: Lexicon) -> None:
    prompt = 'Ask Szymborska about "teh" in `fn_qux()` at www.exmpl.org using v2abc and XKCDZ or McQuarrie.'
    assert arbiter.assess(prompt, lexicon, CONFIG).misspelled == ()


def test_a_weak_cue_alone_does_not_run_the_cleaner(lexicon: Lexicon) -> None:
    assessment = arbiter.assess("Good hiking trails near Denver", lexicon, CONFIG)
    assert assessment.cues == ("no final punctuation",)
    assert assessment.noise_score < CONFIG.cleaner_min_score


@pytest.mark.parametrize(
    ("prompt", "reason"),
    [
        ("What is 12 * (3 + 4)?", "arithmetic"),
        ("def add(a, b):\n    return a + b", "code"),
        ("How do I reverse a list in Python?", "code"),
        ("Hi there!", "chit-chat"),
        ("Rewrite this sentence in a formal tone: we is late.", "task on given text"),
        ("Write a short poem about rain on a window.", "no named entity or concept question"),
    ],
)
def test_describer_skips_tasks_that_need_no_background(
    prompt: str, reason: str, example: Cluster, lexicon: Lexicon
) -> None:
    decision = decide(prompt, example, lexicon)["describer"]
    assert not decision.run
    assert reason in decision.reason


@pytest.mark.parametrize(
    "prompt",
    [
        "Who was Marie Curie and what did she discover?",
        "why is the sky blue",
        "Tell me about the history of the Ottoman Empire.",
        "What is the difference between a virus and a bacterium?",
    ],
)
def test_describer_runs_for_entities_and_concepts(prompt: str, example: Cluster, lexicon: Lexicon) -> None:
    decision = decide(prompt, example, lexicon)["describer"]
    assert decision.run, decision.reason
    assert decision.reason.startswith("background may help")


def test_disabled_arbiter_runs_everything(example: Cluster, lexicon: Lexicon) -> None:
    decisions = decide("What is 2+2?", example, lexicon, ArbiterConfig(enabled=False))
    assert all(d.run for d in decisions.values())


def test_thresholds_come_from_the_config(example: Cluster, lexicon: Lexicon) -> None:
    lenient = ArbiterConfig(cleaner_min_score=3.0)
    assert not decide("What is the captial of France?", example, lexicon, lenient)["cleaner"].run
    assert decide("What is the captial of France?", example, lexicon)["cleaner"].run


@pytest.mark.parametrize(
    ("prompt", "cue"),
    [
        ("Compare Germany and Ftance in a short table.", "misspelt name"),  # one slip from a single common name
        ("Write a short biography of Ada Lovepace.", "misspelt name"),  # a listed name with one word misspelt
        ("How long is the train from Tokyo to kyoto?", "lower-case name"),  # a single name the index capitalises
        ("Is it true that charles darwin sailed on the Beagle?", "lower-case name"),  # a listed name of two words
        ("I think it's about energy, isn't it", "no final punctuation"),  # a question tag asks: a strong cue
    ],
)
def test_names_and_question_tags_the_local_cleaner_fixes_run_the_cleaner(
    prompt: str, cue: str, example: Cluster, lexicon: Lexicon
) -> None:
    named = lexicon.with_names({"ada lovelace": "Ada Lovelace", "charles darwin": "Charles Darwin"}, (), {"kyoto"})
    decision = decide(prompt, example, named)["cleaner"]
    assert decision.run, decision
    assert cue in arbiter.assess(prompt, named, CONFIG).cues
    for clean in ("Compare Germany and France in a short table.", "Write a short biography of Ada Lovelace."):
        assert not decide(clean, example, named)["cleaner"].run


def test_the_encyclopedias_own_words_are_not_typos(lexicon: Lexicon) -> None:
    prompt = "Did Frege define the codomain of a function?"
    assert arbiter.assess(prompt, lexicon, CONFIG).misspelled, "the test needs words the lexicon alone lacks"
    articles = lexicon.with_names({}, corpus_words=["frege", "codomain"], prose_words=["codomain"])
    assert arbiter.assess(prompt, articles, CONFIG).misspelled == ()
