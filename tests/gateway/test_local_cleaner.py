"""The local fallback cleaner: fixes plain misspellings and casing, leaves code, URLs, quotes and names alone."""

from __future__ import annotations

import pytest

from config.cluster import SpellingConfig
from gateway.pipeline.lexicon import Lexicon
from gateway.pipeline.local_cleaner import local_clean


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return Lexicon.load(SpellingConfig())


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("what is teh captial of Italy", "What is the capital of Italy?"),
        ("Explian how photosynthesis works.", "Explain how photosynthesis works."),
        ("why dont cats like water", "Why don't cats like water?"),
        ("can i recieve mail on a sunday", "Can I receive mail on a Sunday?"),
        ("tell me about the enviroment of Mars", "Tell me about the environment of Mars."),
        ("Is it true that goverments print money?", "Is it true that governments print money?"),
        ("write a poem about the ocean.  make it short", "Write a poem about the ocean. Make it short."),
        ("Wow, that is amazing!!!", "Wow, that is amazing!"),
    ],
)
def test_fixes_plain_misspellings_and_casing(prompt: str, expected: str, lexicon: Lexicon) -> None:
    fix = local_clean(prompt, lexicon)
    assert fix.text == expected
    assert fix.changed


def test_reports_the_words_it_fixed(lexicon: Lexicon) -> None:
    fix = local_clean("what is teh captial of Italy", lexicon)
    assert fix.words_fixed == ("teh->the", "captial->capital")
    assert fix.summary() == "local cleaner fixed 2 word(s): teh->the, captial->capital"


@pytest.mark.parametrize(
    ("prompt", "kept"),
    [
        ('Explian the word "recieve" in this sentance.', '"recieve"'),
        ("Explian what `pritn(x)` does.", "`pritn(x)`"),
        ("Summarize https://exmaple.com/teh-artcle for me.", "https://exmaple.com/teh-artcle"),
        ("Explian what Szymborska wrote about onions.", "Szymborska"),
        ("Explian the NATOQ and McQuorrie reports.", "NATOQ and McQuorrie"),
        ("Explian the output of cnt_wrds in v2tst.", "cnt_wrds in v2tst"),
    ],
)
def test_leaves_quotes_code_urls_and_names_alone(prompt: str, kept: str, lexicon: Lexicon) -> None:
    fix = local_clean(prompt, lexicon)
    assert fix.text.startswith("Explain") or fix.text.startswith("Summarize")
    assert kept in fix.text


def test_code_comes_back_unchanged(lexicon: Lexicon) -> None:
    code = "def add(a, b):\n    retrun a + b  # teh sum"
    assert local_clean(code, lexicon).text == code
    assert not local_clean(code, lexicon).changed


def test_clean_prompt_is_unchanged(lexicon: Lexicon) -> None:
    fix = local_clean("Who painted the ceiling of the Sistine Chapel?", lexicon)
    assert fix.text == "Who painted the ceiling of the Sistine Chapel?"
    assert not fix.changed and fix.summary() == "local cleaner found nothing to fix"


def test_is_deterministic(lexicon: Lexicon) -> None:
    prompt = "pls explian teh diffrence between wether and climate"
    assert len({local_clean(prompt, lexicon).text for _ in range(3)}) == 1


async def test_refiner_reports_the_local_fix_when_the_cleaner_is_unavailable(lexicon: Lexicon) -> None:
    from benchmarks.quality import DEFAULT_CONFIG, offline_app_cluster
    from config import Cluster
    from gateway.http.state import GatewayState
    from gateway.pipeline.refinement import RefineOptions

    cluster = offline_app_cluster(DEFAULT_CONFIG)
    assert isinstance(cluster, Cluster)
    state = GatewayState.build(cluster.model_copy(update={"knowledge": None}), lexicon)
    try:
        result = await state.refiner.refine("explian teh rules of chess", "run-1", "req-1", RefineOptions())
    finally:
        await state.pool.aclose()
    report = result.stages["cleaner"]
    assert report.status == "fallback"
    assert report.reason.endswith("local cleaner fixed 2 word(s): explian->explain, teh->the")
    assert result.cleaned_prompt == "Explain the rules of chess."
    assert result.refined_prompt.startswith("Explain the rules of chess.")
