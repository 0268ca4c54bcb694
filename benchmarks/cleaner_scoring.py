"""Pure scoring of cleaner outputs by failure class: exact fix, clean changed, request changed, non-word introduced."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from adapters.cleaner_data import CleanerExample
from gateway.pipeline import guards
from gateway.pipeline.lexicon import Lexicon

_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)*")
EVERYDAY_SET = Path(__file__).resolve().parent / "data" / "cleaner_everyday.jsonl"
FRESH_SET = EVERYDAY_SET.with_name("cleaner_fresh.jsonl")  # same format, written once the code was frozen
BLIND_SET = EVERYDAY_SET.with_name("cleaner_blind.jsonl")  # same format, by a writer who never saw the cleaner
BLIND2_SET = EVERYDAY_SET.with_name("cleaner_blind2.jsonl")  # the same again, written once the blind set was read
BLIND3_SET = EVERYDAY_SET.with_name("cleaner_blind3.jsonl")  # and again, scored once, after this session's code
EVERYDAY_KINDS = ("noisy", "clean", "realword", "keep")


@dataclass(frozen=True)
class EvalItem:
    """One prompt of an evaluation set and the exact text the cleaner must return."""

    id: str
    kind: str  # noisy | clean | injection (generator) | realword | keep (everyday set)
    prompt: str
    reference: str

    @property
    def to_fix(self) -> bool:
        return self.reference != self.prompt


def from_examples(examples: Sequence[CleanerExample]) -> list[EvalItem]:
    return [EvalItem(f"{e.split}-{i:03d}", e.kind, e.noisy, e.clean) for i, e in enumerate(examples)]


def load_everyday(path: Path = EVERYDAY_SET) -> list[EvalItem]:
    """The hand-written set (see cleaner_everyday.md); a bad line is an error naming the file and line."""
    items: list[EvalItem] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        raw = json.loads(line)
        if raw.get("kind") not in EVERYDAY_KINDS:
            raise ValueError(f"{path}:{number}: unknown kind {raw.get('kind')!r}")
        items.append(EvalItem(str(raw["id"]), str(raw["kind"]), str(raw["prompt"]), str(raw["reference"])))
    return items


def changed_request(item: EvalItem, output: str, lexicon: Lexicon) -> list[str]:
    """Correctly spelled content words of the prompt that the reference keeps but the output lost or replaced."""
    meant = set(guards.tokens(item.reference))
    kept = set(guards.tokens(output))
    words = guards.content_tokens(item.prompt)
    return [w for w in words if w in meant and w not in kept and lexicon.known(w)]


def name_words(lexicon: Lexicon) -> frozenset[str]:
    """The words of the lexicon's listed proper names ("nikola" of "Nikola Tesla"), lower-case."""
    return frozenset(word for key in lexicon.names for word in key.split(" "))


def introduced_nonwords(item: EvalItem, output: str, lexicon: Lexicon, names: frozenset[str]) -> list[str]:
    """Words of the output that are neither English (the lexicon, with `names`: the words of its listed proper
    names) nor anywhere in the prompt."""
    given = {w.lower() for w in _WORD.findall(item.prompt)} | names
    return [w for w in _WORD.findall(output) if w.lower() not in given and not lexicon.known(w)]


@dataclass(frozen=True)
class Failure:
    """One output that missed: which classes it fell in, and the words that put it there."""

    id: str
    kind: str
    prompt: str
    reference: str
    output: str
    classes: tuple[str, ...]
    words: tuple[str, ...]


@dataclass
class Tally:
    """Counts of one system on one set, by failure class and by kind."""

    label: str
    to_fix: int = 0
    fixed: int = 0
    unchanged_expected: int = 0
    changed: int = 0
    request_changed: int = 0
    nonword: int = 0
    by_kind: dict[str, list[int]] = field(default_factory=dict)  # kind -> [exact, total]
    failures: list[Failure] = field(default_factory=list)

    def share(self, hits: int, total: int) -> str:
        return f"{hits}/{total} ({100 * hits / total:.1f}%)" if total else "-"

    def kind_share(self, kind: str) -> str:
        exact, total = self.by_kind.get(kind, [0, 0])
        return self.share(exact, total)

    def as_dict(self) -> dict[str, object]:
        out = {k: v for k, v in self.__dict__.items() if k != "failures"}
        return {**out, "failures": [f.__dict__ for f in self.failures]}


def tally(label: str, items: Sequence[EvalItem], outputs: Sequence[str], lexicon: Lexicon) -> Tally:
    result = Tally(label)
    names = name_words(lexicon)
    for item, raw in zip(items, outputs, strict=True):
        output = raw.strip()
        exact = output == item.reference
        counts = result.by_kind.setdefault(item.kind, [0, 0])
        counts[0] += exact
        counts[1] += 1
        classes: list[str] = []
        if item.to_fix:
            result.to_fix += 1
            result.fixed += exact
            if not exact:
                classes.append("not fixed exactly")
        else:
            result.unchanged_expected += 1
            if output != item.prompt:
                result.changed += 1
                classes.append("clean changed")
        lost = changed_request(item, output, lexicon)
        nonwords = introduced_nonwords(item, output, lexicon, names)
        result.request_changed += bool(lost)
        result.nonword += bool(nonwords)
        classes += ["request changed"] * bool(lost) + ["non-word introduced"] * bool(nonwords)
        if classes:
            failure = Failure(
                item.id, item.kind, item.prompt, item.reference, output, tuple(classes), (*lost, *nonwords)
            )
            result.failures.append(failure)
    return result


def table(title: str, tallies: Sequence[Tally], kinds: Sequence[str]) -> str:
    head = ["system", "exact fix (to fix)", "clean changed", "request changed", "non-word introduced"]
    head += [f"exact: {k}" for k in kinds]
    lines = [f"{title}", "", "| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for t in tallies:
        total = t.to_fix + t.unchanged_expected
        cells = [t.label, t.share(t.fixed, t.to_fix), t.share(t.changed, t.unchanged_expected)]
        cells += [t.share(t.request_changed, total), t.share(t.nonword, total)]
        cells += [t.kind_share(k) for k in kinds]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
