"""Corpus records: `{"title", "text", "aliases"?}` JSONL streamed line by line, and the demo wheel's summaries."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from adapters.knowledge.errors import KnowledgeError, KnowledgeFailure


@dataclass(frozen=True)
class Record:
    """One article: its title, its text (a summary or lead section) and names it is also known by."""

    title: str
    text: str
    aliases: tuple[str, ...] = ()


def parse_record(raw: object, where: str) -> Record:
    """A record from decoded JSON, or a BAD_RECORD error naming `where` (a file and line)."""
    if not isinstance(raw, dict):
        raise KnowledgeError(KnowledgeFailure.BAD_RECORD, f"{where}: expected a JSON object")
    title, text, names = raw.get("title"), raw.get("text"), raw.get("aliases", [])
    if not isinstance(title, str) or not title.strip():
        raise KnowledgeError(KnowledgeFailure.BAD_RECORD, f"{where}: 'title' must be a non-empty string")
    if not isinstance(text, str) or not text.strip():
        raise KnowledgeError(KnowledgeFailure.BAD_RECORD, f"{where}: 'text' must be a non-empty string")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise KnowledgeError(KnowledgeFailure.BAD_RECORD, f"{where}: 'aliases' must be a list of strings")
    return Record(title.strip(), text.strip(), tuple(n.strip() for n in names if n.strip()))


def _decode(line: bytes, where: str) -> object:
    try:
        return json.loads(line.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise KnowledgeError(KnowledgeFailure.BAD_RECORD, f"{where}: not UTF-8 text") from exc
    except json.JSONDecodeError as exc:
        raise KnowledgeError(KnowledgeFailure.BAD_RECORD, f"{where}: not valid JSON ({exc.msg})") from exc


class JsonlCorpus:
    """Records streamed from a JSONL file in constant memory; `fraction()` is the share of bytes read so far."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._size = 0
        self._handle: BinaryIO | None = None

    @property
    def source(self) -> str:
        return str(self.path)

    def fraction(self) -> float | None:
        if self._handle is None or not self._size:
            return None
        return self._handle.tell() / self._size

    def __iter__(self) -> Iterator[tuple[int, Record]]:
        """(line number, record), blank lines skipped; a bad line raises with its number."""
        try:
            handle = self.path.open("rb")
            self._size = self.path.stat().st_size
        except OSError as exc:
            raise KnowledgeError(KnowledgeFailure.SOURCE, f"{self.path}: cannot read: {exc.strerror or exc}") from exc
        self._handle = handle
        try:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    where = f"{self.path}:{number}"
                    yield number, parse_record(_decode(line, where), where)
        finally:
            self._handle = None
            handle.close()


class SummariesCorpus:
    """The demo wheel's `summaries_en-us.json`: {title: {"title", "extract", "description", "topic"}}."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._done = 0
        self._total = 0

    @property
    def source(self) -> str:
        return str(self.path)

    def fraction(self) -> float | None:
        return self._done / self._total if self._total else None

    def __iter__(self) -> Iterator[tuple[int, Record]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise KnowledgeError(
                KnowledgeFailure.SOURCE, f"{self.path}: not a readable summaries file ({exc})"
            ) from exc
        if not isinstance(data, dict):
            raise KnowledgeError(KnowledgeFailure.SOURCE, f"{self.path}: expected an object of title -> summary")
        self._total = len(data)
        for number, (key, entry) in enumerate(data.items(), start=1):
            self._done = number
            if not isinstance(entry, dict):
                raise KnowledgeError(KnowledgeFailure.BAD_RECORD, f"{self.path}: entry {key!r} is not an object")
            raw = {"title": entry.get("title", key), "text": entry.get("extract")}
            yield number, parse_record(raw, f"{self.path}: entry {key!r}")


class Corpus(Protocol):
    """What the index builder reads: numbered records and how far through the source it is."""

    @property
    def source(self) -> str: ...

    def fraction(self) -> float | None: ...

    def __iter__(self) -> Iterator[tuple[int, Record]]: ...
