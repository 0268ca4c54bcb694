"""Builds the one-file knowledge index (SQLite FTS5) from a corpus, streaming, into a temp file renamed at the end."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from adapters.knowledge.errors import KnowledgeError, KnowledgeFailure
from adapters.knowledge.records import Corpus, Record
from adapters.knowledge.text import STOPWORDS, aliases, deletes, is_number, name_key
from adapters.progress import Meter, Progress

SCHEMA_VERSION = "1"
# The spelling dictionary keys on each word's first letters (SymSpell's prefix length): bounded rows per word.
SPELL_PREFIX = 7
SPELL_MIN_LENGTH = 4
# Longest name (in tokens) the linker looks up; longer titles stay searchable through BM25.
MAX_NAME_TOKENS = 10
TITLE, ALIAS = 0, 1
_BATCH = 2000

_SCHEMA = f"""
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE articles(id INTEGER PRIMARY KEY, title TEXT NOT NULL UNIQUE, text TEXT NOT NULL);
CREATE VIRTUAL TABLE passages USING fts5(
    title, text, content='articles', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
);
CREATE TABLE names(key TEXT NOT NULL, article INTEGER NOT NULL, kind INTEGER NOT NULL,
    PRIMARY KEY(key, article)) WITHOUT ROWID;
CREATE TABLE words(word TEXT PRIMARY KEY, df INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE spell(key TEXT NOT NULL, word TEXT NOT NULL, PRIMARY KEY(key, word)) WITHOUT ROWID;
CREATE TEMP TABLE title_words(word TEXT PRIMARY KEY) WITHOUT ROWID;
INSERT INTO meta VALUES ('schema', '{SCHEMA_VERSION}');
"""


@dataclass(frozen=True)
class BuildStats:
    """What a build produced."""

    path: Path
    articles: int
    names: int
    words: int
    seconds: float
    size_bytes: int


def check_fts5() -> None:
    """Fail clearly when this Python's SQLite lacks FTS5 (the index needs its BM25 and vocabulary tables)."""
    probe = sqlite3.connect(":memory:")
    try:
        probe.execute("CREATE VIRTUAL TABLE probe USING fts5(x)")
        probe.execute("CREATE VIRTUAL TABLE probe_vocab USING fts5vocab(probe, 'row')")
    except sqlite3.OperationalError as exc:
        raise KnowledgeError(
            KnowledgeFailure.NO_FTS5,
            f"SQLite {sqlite3.sqlite_version} in this Python has no FTS5 ({exc}); use a Python whose sqlite3"
            " module is built with FTS5 (CPython's official builds and Debian's are)",
        ) from exc
    finally:
        probe.close()


def _name_rows(article: int, record: Record) -> Iterator[tuple[str, int, int]]:
    names = [(record.title, TITLE)] + [(a, ALIAS) for a in (*record.aliases, *aliases(record.title, record.text))]
    for name, kind in names:
        key = name_key(name)
        words = key.split()
        if words and len(words) <= MAX_NAME_TOKENS and not all(w in STOPWORDS for w in words):
            yield key, article, kind


class _Writer:
    """One build's connection to the temp file and its running counts."""

    def __init__(self, path: Path, source: str) -> None:
        self.source = source
        self.db = sqlite3.connect(path, isolation_level=None)
        # A temp file deleted on failure needs no journal; durability comes from the fsync before the rename.
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "temp_store=FILE", "cache_size=-65536"):
            self.db.execute(f"PRAGMA {pragma}")
        self.db.executescript(_SCHEMA)
        self.db.execute("BEGIN")
        self.articles = 0

    def add(self, batch: list[tuple[int, Record]]) -> None:
        first = self.articles + 1
        rows = [(first + i, r.title, r.text) for i, (_, r) in enumerate(batch)]
        try:
            self.db.executemany("INSERT INTO articles VALUES (?, ?, ?)", rows)
        except sqlite3.IntegrityError:
            self._raise_duplicate(batch)
        self.db.executemany("INSERT INTO passages(rowid, title, text) VALUES (?, ?, ?)", rows)
        names = [row for i, (_, r) in enumerate(batch) for row in _name_rows(first + i, r)]
        self.db.executemany("INSERT OR IGNORE INTO names VALUES (?, ?, ?)", names)
        self.db.executemany(
            "INSERT OR IGNORE INTO title_words VALUES (?)", ((w,) for key, _, _ in names for w in key.split())
        )
        self.articles += len(batch)

    def _raise_duplicate(self, batch: list[tuple[int, Record]]) -> None:
        seen: set[str] = set()
        for number, record in batch:
            earlier = "SELECT 1 FROM articles WHERE title = ? AND id <= ?"
            if record.title in seen or self.db.execute(earlier, (record.title, self.articles)).fetchone():
                raise KnowledgeError(
                    KnowledgeFailure.DUPLICATE, f"{self.source}:{number}: duplicate title {record.title!r}"
                )
            seen.add(record.title)
        raise KnowledgeError(KnowledgeFailure.DUPLICATE, f"{self.source}: duplicate title")

    def finish(self, licence: str) -> tuple[int, int]:
        db = self.db
        db.execute("CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, passages, 'row')")
        db.execute("INSERT INTO words SELECT term, doc FROM temp.vocab")
        # The spelling dictionary: every name word and every word seen in two articles or more (one-off
        # words are mostly noise a typo would wrongly snap to).
        spellable = db.execute(
            "SELECT word FROM words WHERE length(word) >= ? AND (df >= 2 OR word IN (SELECT word FROM title_words))",
            (SPELL_MIN_LENGTH,),
        )
        rows = ((key, word) for (word,) in spellable if not is_number(word) for key in deletes(word, SPELL_PREFIX))
        db.executemany("INSERT OR IGNORE INTO spell VALUES (?, ?)", rows)
        db.execute("INSERT INTO passages(passages) VALUES ('optimize')")
        names = db.execute("SELECT count(*) FROM names").fetchone()[0]
        words = db.execute("SELECT count(*) FROM words").fetchone()[0]
        meta = {"articles": str(self.articles), "source": self.source, "licence": licence, "built": time.strftime("%F")}
        db.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
        db.execute("COMMIT")
        db.execute("ANALYZE")
        return int(names), int(words)


def _batches(records: Iterable[tuple[int, Record]]) -> Iterator[list[tuple[int, Record]]]:
    iterator = iter(records)
    while batch := list(islice(iterator, _BATCH)):
        yield batch


def build_index(corpus: Corpus, out: Path, progress: Progress, licence: str = "") -> BuildStats:
    """Index every record of `corpus` into `out`; on any error nothing is left at `out` or beside it."""
    check_fts5()
    started = time.monotonic()
    out.parent.mkdir(parents=True, exist_ok=True)
    temp = out.with_name(f".{out.name}.{os.getpid()}.building")
    temp.unlink(missing_ok=True)
    writer = _Writer(temp, corpus.source)
    meter = Meter(progress, f"indexing {Path(corpus.source).name}")
    try:
        for batch in _batches(corpus):
            writer.add(batch)
            rate = writer.articles / max(time.monotonic() - started, 1e-6)
            meter.show(corpus.fraction(), f"{writer.articles:,} articles ({rate:,.0f}/s)")
        if not writer.articles:
            raise KnowledgeError(KnowledgeFailure.EMPTY, f"{corpus.source}: no records")
        progress.say(f"{writer.articles:,} articles read; building the name, word and spelling tables")
        names, words = writer.finish(licence)
        writer.db.close()
        with temp.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temp, out)
    except BaseException:
        writer.db.close()
        temp.unlink(missing_ok=True)
        raise
    seconds = time.monotonic() - started
    progress.say(f"index ready in {seconds:.1f}s: {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return BuildStats(out, writer.articles, names, words, seconds, out.stat().st_size)
