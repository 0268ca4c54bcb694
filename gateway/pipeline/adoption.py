"""The model's word fixes the local cleaner adopts: misspellings it could not fix itself, and names it capitalised."""

from __future__ import annotations

from collections.abc import Mapping
from difflib import SequenceMatcher

from gateway.pipeline import context, names, wording
from gateway.pipeline.lexicon import Lexicon
from gateway.pipeline.local_cleaner import LocalFix
from gateway.pipeline.word_guards import plausible_slip


def adopted(original: str, model: str, local: LocalFix, lexicon: Lexicon) -> str:
    """`original` with two kinds of the model's edits, each on words aligned one to one:

    - the fix of a word the local cleaner leaves because it does not know it and finds no sure fix: a known
      word one slip away (names capitalised inside a sentence and protected text stay as typed);
    - capitals on a run of two or more lower-case words inside a sentence, one of them no common word: a name
      ("ada lovelace" -> "Ada Lovelace"); a single word ("china") or common words stay as typed.
    """
    before, after = wording.words(original), wording.words(model)
    flagged = local.flagged()
    matcher = SequenceMatcher(None, [w.text.lower() for w in before], [w.text.lower() for w in after], autojunk=False)
    aligned: list[tuple[wording.Word, str] | None] = []  # per word of the prompt: its agreed form, or None
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            aligned += [(old, new.text) for old, new in zip(before[i1:i2], after[j1:j2], strict=True)]
        elif tag == "replace" and i2 - i1 == 1 and j2 - j1 == 1:
            aligned.append(_agreed(before[i1], after[j1].text, flagged, lexicon))
        else:
            aligned += [None] * (i2 - i1)
    fixes = [(old, new) for old, new in filter(None, aligned) if new.lower() != old.text.lower()]
    edits = {old.start: (old, _cased(old.text, new)) for old, new in fixes}  # words the model kept stay as typed
    # A name's capitals win, but not over a listed name's own ("Vincent van Gogh", never "Van"): the local
    # cleaner writes that one as listed.
    listed = names.capitalised(original, lexicon)
    for run in _names(aligned, lexicon):
        if all(listed[old.start : old.end] == old.text for old, _ in run):
            edits.update({old.start: (old, new) for old, new in run})
    out = original
    for word, fix in sorted(edits.values(), key=lambda edit: edit[0].start, reverse=True):
        out = out[: word.start] + fix + out[word.end :]
    return out


def _agreed(
    typed: wording.Word, wrote: str, flagged: Mapping[str, str], lexicon: Lexicon
) -> tuple[wording.Word, str] | None:
    """The model's word for `typed` when it is the local cleaner's own fix or a fix it adopts, else None."""
    lower, fix = typed.text.lower(), wrote.lower()
    if flagged.get(lower) == fix:
        return typed, wrote
    if typed.protected or lower in flagged or lexicon.known(lower):
        return None  # a name, kept text, a word the local cleaner fixes its own way, or no misspelling
    ok = fix.isalpha() and lexicon.known(fix) and plausible_slip(lower, fix, lexicon)
    return (typed, wrote) if ok else None


def _cased(typed: str, fix: str) -> str:
    lower = fix.lower()
    return lower[0].upper() + lower[1:] if typed[0].isupper() else lower


def _names(aligned: list[tuple[wording.Word, str] | None], lexicon: Lexicon) -> list[list[tuple[wording.Word, str]]]:
    """The runs of words the model capitalised that look like a name, each a list of (typed, as capitalised)."""
    out: list[list[tuple[wording.Word, str]]] = []
    run: list[tuple[wording.Word, str]] = []
    for pair in [*aligned, None]:
        if pair is not None and _capitalised(*pair):
            run.append((pair[0], pair[1].lower().capitalize()))
            continue
        if len(run) >= 2 and any(not context.common_word(lexicon, new.lower()) for _, new in run):
            out.append(run)
        run = []
    return out


def _capitalised(typed: wording.Word, wrote: str) -> bool:
    text = typed.text
    return (
        not typed.protected
        and not typed.sentence_start
        and text.islower()
        and wrote[:1].isupper()
        and wrote[1:].islower()
    )
