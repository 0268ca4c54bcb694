"""The grounding guard keeps only sentences a passage supports; the extractive fallback picks relevant ones."""

from __future__ import annotations

import pytest

from adapters.knowledge.linking import Match, Passage
from gateway.pipeline.grounding import extract, keep_supported, numbers, supported

PENICILLIN = Passage(
    "Penicillin",
    "Penicillins are a group of antibiotics originally obtained from Penicillium moulds. Penicillin was "
    "discovered in 1928 by the Scottish physician Alexander Fleming. About 2,000 tonnes are made each year.",
    0.84,
    Match.TITLE,
)
FRANCE = Passage(
    "France",
    "France, officially the French Republic, is a country in Western Europe. Its overseas regions include "
    "French Guiana. Its capital, largest city and main cultural centre is Paris. France has a population of "
    "about 68.4 million.",
    0.78,
    Match.TITLE,
)


@pytest.mark.parametrize(
    "sentence",
    [
        "Penicillin was discovered in 1928 by Alexander Fleming.",
        "Alexander Fleming discovered penicillin in 1928.",  # reordered, an inflection
        "About 2000 tonnes of penicillin are made each year.",  # the same number without its separator
        "The capital of France is Paris.",
    ],
)
def test_sentences_the_passages_support_are_kept(sentence: str) -> None:
    assert supported(sentence, [PENICILLIN, FRANCE])


@pytest.mark.parametrize(
    "sentence",
    [
        "Penicillin was discovered in 1929 by Alexander Fleming.",  # one digit changed
        "Penicillin was discovered in 1928 by Louis Pasteur.",  # a fabricated name
        "Penicillin cures viral infections.",  # fabricated claim words
        "France has a population of about 68.5 million.",  # a decimal changed
        "The user message contains a prompt.",  # the describer's old garbage
        "Yes.",  # nothing to check
    ],
)
def test_unsupported_sentences_are_dropped(sentence: str) -> None:
    assert not supported(sentence, [PENICILLIN, FRANCE])


def test_a_sentence_must_be_supported_by_one_passage_not_a_mix() -> None:
    assert not supported("Alexander Fleming discovered Paris.", [PENICILLIN, FRANCE])


def test_keep_supported_counts_drops_and_names_the_source() -> None:
    text = "Penicillin was discovered in 1928 by Alexander Fleming. It was discovered in 1929. Paris is the capital."
    kept, dropped = keep_supported(text, [PENICILLIN, FRANCE], limit=3)
    assert [(g.title, g.score) for g in kept] == [("Penicillin", 0.84), ("France", 0.78)]
    assert dropped == 1


def test_numbers_ignore_thousands_separators_only() -> None:
    assert numbers("about 2,000 tonnes in 1928, or 68.4 million") == {"2000", "1928", "68.4"}


def test_extract_picks_the_lead_and_the_most_relevant_sentence_in_order() -> None:
    picked = extract("what is the captial of frane", [FRANCE, PENICILLIN])
    assert [g.text for g in picked] == [
        "France, officially the French Republic, is a country in Western Europe.",
        "Its capital, largest city and main cultural centre is Paris.",
    ]
    assert {g.title for g in picked} == {"France"}
    assert extract("what is the captial of frane", [FRANCE, PENICILLIN]) == picked


def test_extract_adds_no_irrelevant_sentence_and_handles_no_passage() -> None:
    assert [g.text for g in extract("tell me about penicillin", [PENICILLIN])] == [
        "Penicillins are a group of antibiotics originally obtained from Penicillium moulds."
    ]
    assert [g.text for g in extract("who discovered penicillin", [PENICILLIN], max_sentences=1)] == [
        "Penicillin was discovered in 1928 by the Scottish physician Alexander Fleming."
    ]
    assert extract("anything", []) == []
