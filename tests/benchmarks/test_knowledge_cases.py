"""The knowledge benchmark's key fact: what an article's lead says its subject is, found in a text or not."""

from __future__ import annotations

from benchmarks.knowledge_cases import has_fact, key_fact


def test_key_fact_is_what_the_lead_says_the_subject_is() -> None:
    assert key_fact("Ethanol is an organic compound with the chemical formula CH3CH2OH. It burns.") == (
        "organic",
        "compound",
    )
    assert key_fact("Alexander Pushkin was a Russian poet, playwright, and novelist.") == ("russian", "poet")
    assert key_fact("No copula here at all.") == ()


def test_has_fact_needs_every_word_and_allows_inflections() -> None:
    fact = ("russian", "poet")
    assert has_fact(fact, "Pushkin is among the great Russian poets.")
    assert not has_fact(fact, "Pushkin wrote Russian novels.")
    assert not has_fact((), "anything")
