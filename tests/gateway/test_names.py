"""Proper names typed in lower case: which titles count as names, how they are capitalised, where they come from."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.knowledge.index import KnowledgeIndex
from config.cluster import SpellingConfig
from gateway.http.state import with_knowledge_names
from gateway.pipeline import names
from gateway.pipeline.lexicon import Lexicon
from gateway.pipeline.local_cleaner import local_clean
from tests.knowledge_corpus import build_small_index

TITLES = (
    "Charles Darwin",
    "Leonardo da Vinci",
    "Jane Austen",
    "Solar System",  # only common words: some writers capitalise it, some do not
    "Machine learning",  # sentence case: a common noun phrase
    "Python (programming language)",
    "France",  # one word: no phrase to find
    "William Shakespeare",
    "Ada Lovelace",
    "Marie Curie",
    "Dmitri Mendeleev",
)


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    plain = Lexicon.load(SpellingConfig())
    return plain.with_names(names.name_phrases(TITLES, plain))


def test_only_titles_that_are_proper_names_of_several_words_are_listed(lexicon: Lexicon) -> None:
    assert set(lexicon.names) == {
        "charles darwin",
        "leonardo da vinci",
        "jane austen",
        "william shakespeare",
        "ada lovelace",
        "marie curie",
        "dmitri mendeleev",
    }


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("Who was charles darwin?", "Who was Charles Darwin?"),
        ("how did leonardo da vinci change history?", "How did Leonardo da Vinci change history?"),
        ("Who was william shakespere?", "Who was William Shakespeare?"),  # the misspelt word fixed first
    ],
)
def test_a_listed_name_typed_in_lower_case_is_capitalised(prompt: str, expected: str, lexicon: Lexicon) -> None:
    assert local_clean(prompt, lexicon).text == expected


@pytest.mark.parametrize(
    "prompt",
    [
        "Explain the solar system to a child.",
        "Is machine learning hard to learn?",
        "Who was Charles darwin?",  # partly capitalised: cased as the writer meant
        'Translate "charles darwin" into French.',  # quoted text is kept
    ],
)
def test_other_lower_case_phrases_are_left_alone(prompt: str, lexicon: Lexicon) -> None:
    fix = local_clean(prompt, lexicon)
    assert fix.text == prompt, fix.words_fixed


def test_a_particle_between_capitalised_words_is_not_taken_for_a_slip() -> None:
    plain = Lexicon.load(SpellingConfig())  # no name list: the particle alone keeps "da"
    assert local_clean("Who was Leonardo da Vinci?", plain).text == "Who was Leonardo da Vinci?"


def test_the_gateway_takes_its_names_from_the_knowledge_index(tmp_path: Path) -> None:
    index = KnowledgeIndex.open(build_small_index(tmp_path))
    try:
        titles = index.titles()
        lexicon = with_knowledge_names(Lexicon.load(SpellingConfig()), index)
    finally:
        index.close()
    assert "Alexander Fleming" in titles
    assert lexicon.names.get("alexander fleming") == "Alexander Fleming"
    assert {"fleming", "penicillin"} <= lexicon.corpus_words, "the articles' words: their spellings are not slips"


def test_single_names_are_the_words_the_articles_only_ever_capitalise_inside_a_sentence(tmp_path: Path) -> None:
    index = KnowledgeIndex.open(build_small_index(tmp_path))
    try:
        cases = index.word_cases()
        once, twice = set(cases.names(1)), set(cases.names(2))
    finally:
        index.close()
    # "the French Republic", "of the French from", "the French Revolution": always capitalised there.
    assert {"french", "fleming", "republic"} <= once and "french" in twice and "fleming" in twice
    assert "grammar" not in once, "written lower-case inside a sentence ('In linguistics, grammar is')"
    assert "penicillin" not in once, "capitalised at sentence starts, lower-case inside one ('discovery of penicillin')"
    assert {"grammar", "penicillin"} <= cases.lower and "fleming" not in cases.lower


def test_a_single_name_typed_in_lower_case_is_capitalised_unless_it_is_also_a_common_word() -> None:
    plain = Lexicon.load(SpellingConfig())
    assert names.single_names(["kyoto", "bang", "bible", "inc"], plain) == {"kyoto"}
    lexicon = plain.with_names({}, single_names={"kyoto"})
    assert local_clean("is kyoto worth a visit in autumn", lexicon).text == "Is Kyoto worth a visit in autumn?"
    assert local_clean("is kyoto worth a visit in autumn", plain).text == "Is kyoto worth a visit in autumn?"
    assert with_knowledge_names(lexicon, None) is lexicon


@pytest.mark.parametrize(
    ("prompt", "expected", "fixed"),
    [
        ("Write a short biography of Ada Lovepace.", "Write a short biography of Ada Lovelace.", "Lovepace->Lovelace"),
        (
            "Pretend you are marie chrie and tell me a joke.",
            "Pretend you are Marie Curie and tell me a joke.",
            "chrie->Curie",
        ),
        ("who was charlse darwin", "Who was Charles Darwin?", "charlse->Charles"),
    ],
)
def test_a_listed_name_typed_with_one_word_misspelt_is_written_as_the_name(
    prompt: str, expected: str, fixed: str, lexicon: Lexicon
) -> None:
    fix = local_clean(prompt, lexicon)
    assert fix.text == expected
    assert fixed in fix.words_fixed


@pytest.mark.parametrize(
    "prompt",
    [
        "Who was Dmitry Mendeleev?",  # the articles' own spelling of the name: not a slip
        "Who was Ada Lovelaces?",  # a letter more at the end: another form, not a slip
        "Who was Marie Cure?",  # "cure" is a word: a real-word slip is not guessed
        "Who was Jane Austin?",  # the same
    ],
)
def test_near_spellings_that_are_words_or_the_articles_own_are_left_alone(prompt: str) -> None:
    plain = Lexicon.load(SpellingConfig())
    lexicon = plain.with_names(names.name_phrases(TITLES, plain), corpus_words=["dmitry", "mendeleev"])
    fix = local_clean(prompt, lexicon)
    assert fix.text == prompt, fix.words_fixed


def test_titles_of_common_words_are_names_only_where_the_articles_write_them_so(tmp_path: Path) -> None:
    index = KnowledgeIndex.open(build_small_index(tmp_path))
    try:
        written = index.written_cases({"alexander fleming": "Alexander Fleming", "capital city": "Capital City"})
    finally:
        index.close()
    # "by the Scottish physician Alexander Fleming", "Sir Alexander Fleming was"; "A capital city is".
    assert written == {"alexander fleming": (2, 0), "capital city": (0, 1)}
    plain = Lexicon.load(SpellingConfig())
    titles = {t.lower(): t for t in ("Cold War", "North Pole", "Solar System", "Big Bang")}
    assert names.common_word_titles([*titles.values(), "Charles Darwin", "Machine learning"], plain) == titles
    usage = {"cold war": (24, 1), "north pole": (8, 2), "solar system": (71, 2), "big bang": (2, 0)}
    # The North Pole is written lower-case too, the solar system is by most writers, the Big Bang seen too rarely.
    assert names.usage_names(usage, titles, plain) == {"cold war": "Cold War"}


def test_a_name_of_common_words_is_capitalised_only_after_the() -> None:
    lexicon = Lexicon.load(SpellingConfig()).with_names({}, common_word_names={"cold war": "Cold War"})
    assert local_clean("recommend a book about the cold war", lexicon).text == "Recommend a book about the Cold War."
    assert local_clean("they fought a cold war for years", lexicon).text == "They fought a cold war for years."


def test_the_names_articles_open_with_are_names_too(tmp_path: Path) -> None:
    index = KnowledgeIndex.open(build_small_index(tmp_path))
    try:
        aliases = index.aliases()
        lexicon = with_knowledge_names(Lexicon.load(SpellingConfig()), index)
    finally:
        index.close()
    # "Napoleon Bonaparte, later known as Napoleon I, was ...": as the text writes them.
    assert {"Napoleon Bonaparte", "Napoleon I", "French Republic"} <= set(aliases)
    assert lexicon.names.get("napoleon bonaparte") == "Napoleon Bonaparte"
    assert local_clean("pretend you are napoleon bonaparte", lexicon).text == "Pretend you are Napoleon Bonaparte."
    assert local_clean("Pretend you are Napoleon Bojaparte.", lexicon).text == "Pretend you are Napoleon Bonaparte."
