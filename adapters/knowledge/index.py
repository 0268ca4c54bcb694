"""The read-only knowledge index: one SQLite file per replica, one connection per thread, entity-linked retrieval."""

from __future__ import annotations

import re
import sqlite3
import threading
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from symspellpy.editdistance import DistanceAlgorithm, EditDistance

from adapters.knowledge.build import (
    ALIAS,
    MAX_NAME_TOKENS,
    SCHEMA_VERSION,
    SPELL_MIN_LENGTH,
    SPELL_PREFIX,
    TITLE,
)
from adapters.knowledge.errors import KnowledgeError, KnowledgeFailure
from adapters.knowledge.intent import background_need
from adapters.knowledge.linking import (
    MAX_FORMS,
    Form,
    Match,
    NameHit,
    Passage,
    PromptWords,
    best_hits,
    coverage,
    idf,
    prompt_words,
    rank,
    search_terms,
    span_keys,
)
from adapters.knowledge.text import STOPWORDS, deletes, is_number, word_variants

# A word after a lower-case word or a comma and a space: inside a sentence, where only a name is capitalised.
_MID_SENTENCE_WORD = re.compile(r"(?<=[a-z,] )\(?([A-Za-z]{3,})\b")
# The part after a hyphen of a lower-case compound ("avant-garde", "eight-limbed"): a word in lower case too.
_ALIASES = (
    "SELECT n.key, substr(a.text, 1, 400) FROM names n JOIN articles a ON a.id = n.article "
    "WHERE n.kind = ? AND n.key LIKE '% %'"
)
_PHRASE_TEXTS = "SELECT a.text FROM passages p JOIN articles a ON a.id = p.rowid WHERE passages MATCH ?"
_COMPOUND_PART = re.compile(r"(?<=[a-z]-)([a-z]{3,})\b")
# A word seen in at most this many articles may still be a typo: its spellings within reach are tried too,
# if they are at least RARE_RATIO times as common.
RARE_DF = 2
RARE_RATIO = 10
VARIANT_QUALITY = 0.95
BM25_CANDIDATES = 12
LINKED_CANDIDATES = 12
_SQL_CHUNK = 500


@dataclass(frozen=True)
class WordCases:
    """The articles' words (lower-case keys) by how they are written inside a sentence."""

    capitalised: dict[str, int]  # written Capitalised there this many times
    lower: frozenset[str]  # written in lower case there at least once: a word of its own ("codomain", "chili")

    def names(self, min_count: int) -> list[str]:
        """Words capitalised inside a sentence at least `min_count` times and never in lower case there ("kyoto",
        "napoleon"; not "turkey" or "china", which the articles also write lower-case)."""
        return sorted(w for w, n in self.capitalised.items() if n >= min_count and w not in self.lower)


@dataclass
class _Session:
    """What one thread uses: its own read-only connection and its own edit-distance comparer (not thread-safe)."""

    db: sqlite3.Connection
    comparer: EditDistance


def _chunks(items: Sequence[str], size: int = _SQL_CHUNK) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class KnowledgeIndex:
    """An index built by `build_index`, opened read-only; `retrieve` may be called from any thread."""

    def __init__(self, path: Path, articles: int) -> None:
        self.path = path
        self.articles = articles
        self._local = threading.local()
        self._lock = threading.Lock()
        self._sessions: list[_Session] = []

    @classmethod
    def open(cls, path: Path) -> KnowledgeIndex:
        """Open and check an index file; KnowledgeError (MISSING, BAD_INDEX) when it cannot be used."""
        if not path.is_file():
            raise KnowledgeError(
                KnowledgeFailure.MISSING, f"{path}: no knowledge index (build one: mpr knowledge build)"
            )
        probe = cls(path, 0)
        try:
            meta = dict(probe._session().db.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as exc:
            probe.close()
            raise KnowledgeError(KnowledgeFailure.BAD_INDEX, f"{path}: not a knowledge index ({exc})") from exc
        if meta.get("schema") != SCHEMA_VERSION:
            probe.close()
            raise KnowledgeError(
                KnowledgeFailure.BAD_INDEX,
                f"{path}: index schema {meta.get('schema')!r}, this code reads {SCHEMA_VERSION!r}: rebuild it",
            )
        probe.articles = int(meta.get("articles", "0"))
        return probe

    def _session(self) -> _Session:
        session: _Session | None = getattr(self._local, "session", None)
        if session is None:
            # immutable=1: the file never changes under a replica (a rebuild replaces it by rename), so SQLite
            # skips locking and change detection entirely.
            uri = f"file:{urllib.parse.quote(str(self.path.resolve()))}?mode=ro&immutable=1"
            try:
                # Used by this thread only; check_same_thread=False lets `close()` close it from another thread.
                db = sqlite3.connect(uri, uri=True, check_same_thread=False)
            except sqlite3.OperationalError as exc:
                raise KnowledgeError(KnowledgeFailure.BAD_INDEX, f"{self.path}: cannot open ({exc})") from exc
            session = _Session(db, EditDistance(DistanceAlgorithm.DAMERAU_OSA))
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    def close(self) -> None:
        """Close every thread's connection (call once no thread uses the index any more)."""
        with self._lock:
            for session in self._sessions:
                session.db.close()
            self._sessions.clear()
        self._local = threading.local()

    def retrieve(self, prompt: str, limit: int = 3) -> list[Passage]:
        """The best `limit` passages for `prompt`, best first: named entities first, then BM25 over the text.

        Blocking SQLite work: from an event loop, call it with asyncio.to_thread.
        """
        need = background_need(prompt)
        words = prompt_words(prompt)
        if need <= 0.0 or not words.terms:
            return []
        session = self._session()
        dfs = self._resolve(session, words)
        hits = {h.article: h for h in best_hits(self._name_hits(session.db, words))}
        linked = sorted(hits.values(), key=lambda h: (-(h.end - h.start), -h.quality))[:LINKED_CANDIDATES]
        ids = [h.article for h in linked] + self._bm25(session.db, search_terms(words, dfs, self.articles))
        passages = []
        for article, title, text in self._articles(session.db, ids):
            hit = hits.get(article)
            score = need * coverage(words, title, text, hit)
            passages.append(Passage(title, text, round(score, 4), hit.kind if hit else Match.TEXT))
        return rank(passages, limit)

    def titles(self) -> list[str]:
        """Every article's title as written (the cleaner takes the proper names among them as its name list)."""
        return [str(title) for (title,) in self._session().db.execute("SELECT title FROM articles ORDER BY id")]

    def aliases(self) -> list[str]:
        """The other names of several words the articles open with, as they write them ("Napoleon Bonaparte" for
        "Napoleon", "Alan Mathison Turing"); an alias whose spelling the text does not show as such is left out."""
        out: list[str] = []
        for key, opening in self._session().db.execute(_ALIASES, (ALIAS,)):
            words = str(key).split(" ")
            found = re.search(r"\b" + r"\s+".join(map(re.escape, words)) + r"\b", str(opening), re.IGNORECASE)
            if found:
                out.append(" ".join(found.group().split()))
        return out

    def words(self) -> list[str]:
        """Every word the articles use, lower-case (their spellings of names: "dmitry", "svyatoslav")."""
        return [str(word) for (word,) in self._session().db.execute("SELECT word FROM words")]

    def word_cases(self) -> WordCases:
        """How the articles write their words inside a sentence: capitalised (names), in lower case (words)."""
        upper: dict[str, int] = {}
        lower: set[str] = set()
        for (text,) in self._session().db.execute("SELECT text FROM articles"):
            for match in _MID_SENTENCE_WORD.finditer(str(text)):
                word = match.group(1)
                if word.islower():
                    lower.add(word)
                elif word[0].isupper() and word[1:].islower():
                    upper[word.lower()] = upper.get(word.lower(), 0) + 1
            lower.update(match.group(1) for match in _COMPOUND_PART.finditer(str(text)))
        return WordCases(upper, frozenset(lower))

    def written_cases(self, phrases: Mapping[str, str]) -> dict[str, tuple[int, int]]:
        """For each lower-case phrase -> its name as written: how often the articles write it so inside a sentence,
        and how often in lower case ("Cold War": 24 and 1)."""
        db = self._session().db
        out: dict[str, tuple[int, int]] = {}
        for key, written in phrases.items():
            quoted = '"' + key.replace('"', "") + '"'
            rows = db.execute(_PHRASE_TEXTS, (f"text:{quoted}",))
            texts = [str(text) for (text,) in rows]
            named = re.compile(rf"(?<=[a-z,] ){re.escape(written)}\b")
            lower = re.compile(rf"\b{re.escape(key)}\b")
            out[key] = (sum(len(named.findall(t)) for t in texts), sum(len(lower.findall(t)) for t in texts))
        return out

    def spellings(self, word: str) -> list[str]:
        """How the index reads one word of a prompt: itself, its inflections, or the near spellings it has."""
        words = prompt_words(word)
        if not words.terms:
            return []
        self._resolve(self._session(), words)
        return [f.word for f in words.forms.get(words.terms[0], [])]

    def _dfs(self, db: sqlite3.Connection, words: Iterable[str]) -> dict[str, int]:
        unique = sorted(set(words))
        found: dict[str, int] = {}
        for chunk in _chunks(unique):
            marks = ",".join("?" * len(chunk))
            found.update(db.execute(f"SELECT word, df FROM words WHERE word IN ({marks})", chunk).fetchall())
        return found

    def _resolve(self, session: _Session, words: PromptWords) -> dict[str, int]:
        """Fill each token's spellings and each term's weight; return the document frequencies seen."""
        plain = {t for t in words.tokens if t not in STOPWORDS}
        dfs = self._dfs(session.db, [*plain, *(v for t in plain for v in word_variants(t))])
        for token in sorted(plain):
            df = dfs.get(token, 0)
            forms = [Form(token, 1.0)] if df else []
            forms += [Form(v, VARIANT_QUALITY) for v in word_variants(token) if dfs.get(v)]
            # A three-letter word is tried only when no article has it ("glf" for "gulf").
            if df <= RARE_DF and not is_number(token) and len(token) >= (SPELL_MIN_LENGTH if df else 3):
                forms += self._fuzzy(session, token, df, dfs)
            forms = sorted(forms, key=lambda f: (-f.quality, f.word))[:MAX_FORMS]
            words.forms[token] = forms
            words.weights[token] = idf(max((dfs.get(f.word, 0) for f in forms), default=0), self.articles)
        return dfs

    def _fuzzy(self, session: _Session, token: str, df: int, dfs: dict[str, int]) -> list[Form]:
        """Spellings within one edit (two for words of six letters or more), nearest and most common first."""
        keys = sorted(set(deletes(token, SPELL_PREFIX)))
        marks = ",".join("?" * len(keys))
        near = [w for (w,) in session.db.execute(f"SELECT DISTINCT word FROM spell WHERE key IN ({marks})", keys)]
        limit = 1 if len(token) <= 5 else 2
        scored = [(w, session.comparer.compare(token, w, limit)) for w in near if w != token]
        scored = [(w, d) for w, d in scored if d >= 0]
        dfs.update(self._dfs(session.db, [w for w, _ in scored]))
        scored = [(w, d) for w, d in scored if dfs.get(w, 0) > RARE_RATIO * df]
        if not scored:
            return []
        nearest = min(d for _, d in scored)
        top = max(dfs[w] for w, d in scored if d == nearest)
        return [
            Form(w, (1.0 - d / max(len(token), len(w))) * (0.9 + 0.1 * dfs[w] / top)) for w, d in scored if d == nearest
        ]

    def _name_hits(self, db: sqlite3.Connection, words: PromptWords) -> list[NameHit]:
        spans: dict[str, list[tuple[int, int, tuple[float, ...]]]] = {}
        for key, start, end, qualities in span_keys(words, MAX_NAME_TOKENS):
            spans.setdefault(key, []).append((start, end, qualities))
        hits: list[NameHit] = []
        for chunk in _chunks(sorted(spans)):
            marks = ",".join("?" * len(chunk))
            for key, article, kind in db.execute(f"SELECT key, article, kind FROM names WHERE key IN ({marks})", chunk):
                match = Match.TITLE if kind == TITLE else Match.ALIAS
                hits += [NameHit(article, match, s, e, q) for s, e, q in spans[key]]
        return hits

    def _bm25(self, db: sqlite3.Connection, terms: Sequence[str]) -> list[int]:
        if not terms:
            return []
        query = " OR ".join(f'"{t}"' for t in terms)
        rows = db.execute(
            "SELECT rowid FROM passages WHERE passages MATCH ? ORDER BY bm25(passages, 2.0, 1.0) LIMIT ?",
            (query, BM25_CANDIDATES),
        )
        return [int(r) for (r,) in rows]

    def _articles(self, db: sqlite3.Connection, ids: Sequence[int]) -> list[tuple[int, str, str]]:
        unique = list(dict.fromkeys(ids))
        if not unique:
            return []
        marks = ",".join("?" * len(unique))
        rows = db.execute(f"SELECT id, title, text FROM articles WHERE id IN ({marks})", unique).fetchall()
        return [(int(i), str(t), str(x)) for i, t, x in rows]
