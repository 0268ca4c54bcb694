"""Offline encyclopedia knowledge: a one-file SQLite FTS5 index, its builder and entity-linking retrieval."""

from adapters.knowledge.build import BuildStats, build_index, check_fts5
from adapters.knowledge.errors import KnowledgeError, KnowledgeFailure
from adapters.knowledge.index import KnowledgeIndex
from adapters.knowledge.linking import Match, Passage
from adapters.knowledge.records import Corpus, JsonlCorpus, Record, SummariesCorpus

__all__ = [
    "BuildStats",
    "Corpus",
    "JsonlCorpus",
    "KnowledgeError",
    "KnowledgeFailure",
    "KnowledgeIndex",
    "Match",
    "Passage",
    "Record",
    "SummariesCorpus",
    "build_index",
    "check_fts5",
]
