"""The knowledge index's typed failures: one exception, its kind an enum."""

from __future__ import annotations

from enum import StrEnum


class KnowledgeFailure(StrEnum):
    """What went wrong with a corpus or an index."""

    NO_FTS5 = "no_fts5"  # this Python's SQLite was built without FTS5
    MISSING = "missing"  # no index file at the path
    BAD_INDEX = "bad_index"  # not an index this code built (or of another schema version)
    BAD_RECORD = "bad_record"  # a corpus line that is not a {"title", "text"} record
    DUPLICATE = "duplicate"  # two records with one title
    EMPTY = "empty"  # a corpus without a single record
    SOURCE = "source"  # the corpus file or wheel cannot be read


class KnowledgeError(Exception):
    """A corpus or index that cannot be used; the message names the file (and the line, for a corpus)."""

    def __init__(self, kind: KnowledgeFailure, message: str) -> None:
        self.kind = kind
        super().__init__(message)
