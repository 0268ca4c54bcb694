"""The knowledge benchmark's prompt sets and how an output is scored against an article's key fact."""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path

from adapters.describer_data import DescriberSpec, generate, lead
from adapters.knowledge.index import KnowledgeIndex
from adapters.knowledge.linking import Passage
from adapters.knowledge.text import content_terms, tokens
from benchmarks.knowledge_calibration import DATA, invented
from config.cluster import KnowledgeConfig

# After the subject's copula comes what the summary says it is ("Ethanol is an organic compound ...").
_COPULA = re.compile(r"\b(?:is|was|are|were)\b\s+", re.IGNORECASE)
FACT_TERMS = 2  # the first two content words after the copula: "organic compound", "russian poet"
SEED_PROMPTS = (
    ("what is the captial of frane?", "France"),
    ("who was napolean", "Napoleon"),
    ("who discovered penicilin", "Penicillin"),
)


@dataclass(frozen=True)
class Case:
    """A prompt, its group, and for a prompt about an article its title and key fact (content words)."""

    prompt: str
    group: str  # article-clean | article-typo | seed | no-background | unknown-name
    title: str = ""
    fact: tuple[str, ...] = ()

    @property
    def about_article(self) -> bool:
        return bool(self.title)


def key_fact(summary: str) -> tuple[str, ...]:
    """The key fact of an article: the first content words of what its lead sentence says the subject is."""
    first = lead(summary) or summary
    found = _COPULA.search(first)
    if found is None:
        return ()
    title_words = set(tokens(first[: found.start()]))
    terms = [t for t in content_terms(first[found.end() :]) if t not in title_words]
    return tuple(terms[:FACT_TERMS]) if len(terms) >= FACT_TERMS else ()


def has_fact(fact: tuple[str, ...], text: str) -> bool:
    """Every key-fact word is in the text (an inflection counts: "poet" in "poets", "compound" in "compounds")."""
    if not fact:
        return False
    words = tokens(text)
    return all(any(w.startswith(term[: max(4, len(term) - 2)]) for w in words) for term in fact)


def article_cases(index_path: Path, knowledge: KnowledgeConfig, count: int, seed: int) -> list[Case]:
    """Prompts about held-out articles (adapters.describer_data's held-out split: never trained on, and in the
    retrieval calibration's held-out half), about half with a typo in the name, held-out templates."""
    spec = DescriberSpec(
        seed=seed,
        train=0,
        heldout=count * 2,
        top_k=knowledge.top_k,
        min_score=knowledge.min_score,
        max_passage_chars=knowledge.max_passage_chars,
    )
    cases: list[Case] = []
    for example in generate(index_path, spec):
        fact = key_fact(example.target)
        if fact and len(cases) < count:
            group = "article-typo" if example.typo else "article-clean"
            cases.append(Case(example.prompt, group, example.title, fact))
    return cases


def seed_cases(index: KnowledgeIndex) -> list[Case]:
    """The deployment guide's examples (their articles are not held out: shown, not scored for generalisation)."""
    out = []
    for prompt, title in SEED_PROMPTS:
        found = [p for p in index.retrieve(title, 3) if p.title == title]
        out.append(Case(prompt, "seed", title, key_fact(found[0].text) if found else ()))
    return out


def negative_cases(index: KnowledgeIndex, per_group: int, seed: int) -> list[Case]:
    """Held-out negatives: `per_group` prompts that need no background (benchmarks/data/knowledge_negatives.jsonl:
    tasks on given text, arithmetic, code, chit-chat, interleaved) and `per_group` naming nothing known (that
    file's unknown names, then invented names in the held-out phrasings)."""
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    held = [r for r in rows if r["split"] == "held_out"]
    kinds = sorted({r["kind"] for r in held} - {"unknown_name"})
    by_kind = [[r["prompt"] for r in held if r["kind"] == k] for k in kinds]
    plain = [p for group in itertools.zip_longest(*by_kind) for p in group if p is not None][:per_group]
    unknown = [r["prompt"] for r in held if r["kind"] == "unknown_name"]
    unknown += [c.prompt for c in invented(index, per_group, seed) if c.split == "held_out"]
    return [Case(p, "no-background") for p in plain] + [Case(p, "unknown-name") for p in unknown[:per_group]]


def relevant(index: KnowledgeIndex, prompt: str, knowledge: KnowledgeConfig) -> list[Passage]:
    """The passages the gateway gives the describer for the prompt (above min_score, top_k)."""
    return [p for p in index.retrieve(prompt, knowledge.top_k) if p.score >= knowledge.min_score]
