"""The merger's word-by-word guards: each kind caught, named with its word, repaired or rejected; fixes pass."""

from __future__ import annotations

import pytest

from config.cluster import MergerConfig, SpellingConfig
from gateway.pipeline import merger, word_guards
from gateway.pipeline.guards import GuardKind
from gateway.pipeline.lexicon import Lexicon
from gateway.pipeline.word_guards import WordIssue

CONFIG = MergerConfig()


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return Lexicon.load(SpellingConfig())


@pytest.mark.parametrize(
    ("original", "output", "kind", "word", "cleaned"),
    [
        (
            "explain how bridges are desinged to handle wind",
            "Explain how brides are designed to handle wind.",
            GuardKind.REPLACED_WORD,
            "bridges",
            "Explain how bridges are designed to handle wind.",
        ),
        (
            "why do engineers use steel beams insted of wood",
            "Why do engines use steel beams instead of wood?",
            GuardKind.REPLACED_WORD,
            "engineers",
            "Why do engineers use steel beams instead of wood?",
        ),
        (
            "whats the best colour for a kitchen",
            "What's the best color for a kitchen?",
            GuardKind.REPLACED_WORD,
            "colour",
            "What's the best colour for a kitchen?",
        ),
        (
            "Fix this senrence please.",
            "Fix this seance please.",
            GuardKind.IMPLAUSIBLE_EDIT,
            "senrence",
            "Fix this sentence please.",
        ),
        (
            "Write a poem about the oceann at night.",
            "Write a poem about the theoscean at night.",
            GuardKind.NON_WORD,
            "oceann",
            "Write a poem about the ocean at night.",
        ),
    ],
)
def test_offending_words_are_put_back_and_named(
    original: str, output: str, kind: GuardKind, word: str, cleaned: str, lexicon: Lexicon
) -> None:
    merged = merger.merge(original, output, None, CONFIG, lexicon, cleaner_ran=True)
    verdict = merged.cleaner
    assert verdict is not None and verdict.accepted, verdict
    assert verdict.kind is kind
    assert [p.word for p in verdict.problems] == [word]
    assert f"'{word}'" in verdict.reason and str(kind) in verdict.reason
    assert merged.cleaned_prompt == cleaned


@pytest.mark.parametrize(
    ("original", "output", "kind", "word"),
    [
        (
            "i cant decide between a laptop and a tablet",
            "I can decide between a laptop and a tablet.",
            GuardKind.IMPLAUSIBLE_EDIT,
            "cant",
        ),
        ("Is it OK to feed bread to ducks?", "Is it OK to feed ducks bread?", GuardKind.ADDED_WORD, "ducks"),
        ("Their are many ways to save money.", "Their many ways to save money.", GuardKind.DROPPED_WORD, "are"),
        # A filler changes what is asked: "what did he actually win" is not "what did he win".
        (
            "what did albert einstein actually win a prize for",
            "What did Albert Einstein win a prize for?",
            GuardKind.DROPPED_WORD,
            "actually",
        ),
        (
            "I don't know if your right about this.",
            "I don't know if you're right about the earth is right.",
            GuardKind.ADDED_WORD,
            "",
        ),
    ],
)
def test_outputs_that_turn_or_reshape_the_request_are_caught(
    original: str, output: str, kind: GuardKind, word: str, lexicon: Lexicon
) -> None:
    verdict = merger.judge_cleaned(original, output, CONFIG, lexicon, {})
    assert verdict.kind is kind, verdict
    assert word in [p.word for p in verdict.problems]


def test_an_added_non_word_rejects_the_output(lexicon: Lexicon) -> None:
    merged = merger.merge("what is teh capital of peru", "What is the capital of Peru zorbl?", None, CONFIG, lexicon)
    verdict = merged.cleaner
    assert verdict is not None and not verdict.accepted
    assert verdict.kind is GuardKind.NON_WORD
    assert verdict.problems[0].issue is WordIssue.NON_WORD and verdict.problems[0].replacement == "zorbl"
    assert "zorbl" in verdict.reason
    assert merged.cleaned_prompt == "What is the capital of Peru?", "the local cleaner's fix instead"


def test_changing_text_the_prompt_asks_to_keep_is_rejected(lexicon: Lexicon) -> None:
    original = "Translate this into French and keep my spelling: i luv my cat becuase she is soo cute"
    output = "Translate this into French and keep my spelling: I love my cat because she is so cute."
    merged = merger.merge(original, output, None, CONFIG, lexicon, cleaner_ran=True)
    assert merged.cleaner is not None and not merged.cleaner.accepted
    assert merged.cleaner.kind is GuardKind.PROTECTED_CHANGED
    assert "i luv my cat" in merged.cleaner.reason
    assert merged.cleaned_prompt == original


def test_quoted_and_code_text_must_come_back_verbatim(lexicon: Lexicon) -> None:
    problems = word_guards.protected_changes("What does `pritn(x)` do?", "What does `print(x)` do?")
    assert [(p.issue, p.word) for p in problems] == [(WordIssue.PROTECTED_CHANGED, "`pritn(x)`")]
    assert word_guards.protected_changes("What does `pritn(x)` do", "What does `pritn(x)` do?") == []


@pytest.mark.parametrize(
    ("original", "output"),
    [
        ("their is a problem with my laptop", "There is a problem with my laptop."),
        ("I have alot of homework", "I have a lot of homework."),
        ("can you reccomend a board game for four players", "Can you recommend a board game for four players?"),
        ("pls explian teh rules", "Please explain the rules."),
        ("what is the capital of australia", "What is the capital of Australia?"),
    ],
)
def test_real_fixes_pass_the_word_guards(original: str, output: str, lexicon: Lexicon) -> None:
    merged = merger.merge(original, output, None, CONFIG, lexicon)
    assert merged.cleaner is not None and merged.cleaner.accepted, merged.cleaner
    assert merged.cleaner.problems == () and merged.cleaner.kind is None
    assert merged.cleaned_prompt == output


def test_a_fix_too_far_from_its_typo_is_implausible(lexicon: Lexicon) -> None:
    assert word_guards.plausible_slip("recieve", "receive", lexicon)
    assert word_guards.plausible_slip("tommorow", "tomorrow", lexicon)
    assert not word_guards.plausible_slip("senrence", "seance", lexicon)
    assert not word_guards.plausible_slip("teh", "they", lexicon)
    check = word_guards.check_words("a loose of power", "a lack of power", lexicon, {"loose": "loss"})
    assert [(p.issue, p.word, p.replacement) for p in check.problems] == [(WordIssue.IMPLAUSIBLE_EDIT, "loose", "lack")]
    assert check.repaired == "a loose of power"


def test_rejections_of_the_whole_text_carry_their_kind(lexicon: Lexicon) -> None:
    verdict = merger.judge_cleaned("what is the captial of frane", "Sure! The capital is Paris.", CONFIG, lexicon)
    assert not verdict.accepted and verdict.kind is GuardKind.ANSWERED
    assert merger.judge_cleaned("x", "", CONFIG, lexicon).kind is GuardKind.EMPTY


def test_a_fix_that_fits_its_neighbours_worse_gives_way_to_the_local_one(lexicon: Lexicon) -> None:
    original = "Pretend you are Vincent van Gogh and pront the word banana."
    output = "Pretend you are Vincent van Gogh and pronto the word banana."
    merged = merger.merge(original, output, None, CONFIG, lexicon, cleaner_ran=True)
    verdict = merged.cleaner
    assert verdict is not None and verdict.accepted and verdict.kind is GuardKind.WORSE_FIT
    assert [(p.word, p.replacement) for p in verdict.problems] == [("pront", "pronto")]
    assert merged.cleaned_prompt == "Pretend you are Vincent van Gogh and print the word banana."


def test_added_quotes_and_uneven_repairs_reject_the_output(lexicon: Lexicon) -> None:
    quoted = merger.judge_cleaned("print the word bahana", 'Print the word "banana".', CONFIG, lexicon, {})
    assert not quoted.accepted and quoted.kind is GuardKind.PROTECTED_CHANGED
    uneven = merger.judge_cleaned("i cant decide", "I can not decide.", CONFIG, lexicon, {"cant": "can't"})
    assert not uneven.accepted, "'cant' paired with 'can' cannot be put back: 'I cant not decide' is no prompt"
    assert uneven.kind is GuardKind.IMPLAUSIBLE_EDIT


def test_a_model_that_replaces_a_word_the_articles_use_is_caught(lexicon: Lexicon) -> None:
    original, output = "what is the codomain of a function", "What is the domain of a function?"
    articles = lexicon.with_names({}, corpus_words=["codomain"], prose_words=["codomain"])
    plain = merger.merge(original, output, None, CONFIG, lexicon, cleaner_ran=True).cleaner
    assert plain is not None and plain.kind is not GuardKind.REPLACED_WORD, "unknown to the lexicon alone: a typo"
    verdict = merger.merge(original, output, None, CONFIG, articles, cleaner_ran=True).cleaner
    assert verdict is not None and verdict.kind is GuardKind.REPLACED_WORD
    assert [p.word for p in verdict.problems] == ["codomain"]
