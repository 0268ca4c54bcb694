"""A small encyclopedia for knowledge tests: a dozen articles written as `mpr knowledge build` reads them."""

from __future__ import annotations

import json
from pathlib import Path

from adapters.knowledge.build import build_index
from adapters.knowledge.records import JsonlCorpus
from adapters.progress import Progress

ARTICLES: tuple[dict[str, object], ...] = (
    {
        "title": "France",
        "text": "France, officially the French Republic, is a country in Western Europe. Its capital, "
        "largest city and main cultural centre is Paris. France has a population of about 68 million.",
    },
    {
        "title": "Paris",
        "text": "Paris is the capital and largest city of France, with a population of 2.1 million. "
        "It lies on the river Seine.",
    },
    {
        "title": "Napoleon",
        "text": "Napoleon Bonaparte, later known as Napoleon I, was Emperor of the French from 1804 "
        "until 1814. He rose to prominence as a general during the French Revolution.",
    },
    {
        "title": "Penicillin",
        "text": "Penicillins are a group of antibiotics originally obtained from Penicillium "
        "moulds. Penicillin was discovered in 1928 by the Scottish physician Alexander Fleming.",
    },
    {
        "title": "Alexander Fleming",
        "text": "Sir Alexander Fleming was a Scottish physician and microbiologist. His "
        "discovery of penicillin in 1928 changed medicine.",
    },
    {
        "title": "Sun",
        "text": "The Sun is the star at the centre of the Solar System. Its surface temperature is about "
        "5,772 kelvin, and it is a nearly perfect sphere of hot plasma.",
    },
    {
        "title": "Grammar",
        "text": "In linguistics, grammar is the set of rules governing the structure of sentences, "
        "phrases and words in a natural language.",
    },
    {
        "title": "Python (programming language)",
        "text": "Python is a high-level programming language created by Guido "
        "van Rossum and first released in 1991. Its design emphasises code readability.",
    },
    {
        "title": "Mercury (planet)",
        "text": "Mercury is the first planet from the Sun and the smallest in the Solar "
        "System. It orbits the Sun every 88 days.",
    },
    {
        "title": "Mercury (element)",
        "text": "Mercury is a chemical element with the symbol Hg. It is the only metal that "
        "is liquid at room temperature, and its boiling point is 357 degrees Celsius.",
    },
    {
        "title": "Mars",
        "text": "Mars is the fourth planet from the Sun. Its reddish surface comes from iron oxide.",
        "aliases": ["the Red Planet"],
    },
    {
        "title": "Australia",
        "text": "Australia is a country in the Southern Hemisphere. Its capital is Canberra and its "
        "largest city is Sydney.",
    },
    {
        "title": "Capital city",
        "text": "A capital city is the municipality holding primary status in a country, "
        "usually as the seat of its government.",
    },
    {
        "title": "Mesopotamia",
        "text": "Mesopotamia is a historical region of West Asia within the Tigris and Euphrates "
        "river system, home of the Sumerians and the city of Babylon.",
    },
)


def write_corpus(path: Path, records: tuple[dict[str, object], ...] = ARTICLES) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def build_small_index(folder: Path) -> Path:
    """The small corpus built into `folder/small.sqlite` through the real builder."""
    out = folder / "small.sqlite"
    build_index(JsonlCorpus(write_corpus(folder / "small.jsonl")), out, Progress())
    return out
