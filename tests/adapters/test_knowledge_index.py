"""The knowledge index: typos, aliases and context find the right article; prompts that need none find nothing."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from adapters.knowledge.errors import KnowledgeError, KnowledgeFailure
from adapters.knowledge.index import KnowledgeIndex
from adapters.knowledge.linking import Match
from config.cluster import KnowledgeConfig
from tests.knowledge_corpus import build_small_index

THRESHOLD = KnowledgeConfig(index="unused").min_score


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnowledgeIndex]:
    opened = KnowledgeIndex.open(build_small_index(tmp_path_factory.mktemp("knowledge")))
    yield opened
    opened.close()


@pytest.mark.parametrize(
    ("prompt", "title"),
    [
        ("what is the captial of frane", "France"),
        ("who was napolean", "Napoleon"),
        ("who discovered penicilin", "Penicillin"),
        ("tell me about mesopotamia", "Mesopotamia"),
        ("what is the capital of australia", "Australia"),
    ],
)
def test_typos_and_plain_names_find_their_article_by_title(index: KnowledgeIndex, prompt: str, title: str) -> None:
    top = index.retrieve(prompt, 3)[0]
    assert (top.title, top.match) == (title, Match.TITLE)
    assert top.score >= THRESHOLD


@pytest.mark.parametrize(
    ("prompt", "title"),
    [
        ("who was napoleon bonaparte", "Napoleon"),  # the lead sentence's name
        ("tell me about the red planet", "Mars"),  # the record's own alias
        ("what is python", "Python (programming language)"),  # the title without its qualifier
    ],
)
def test_aliases_link_the_entity(index: KnowledgeIndex, prompt: str, title: str) -> None:
    top = index.retrieve(prompt, 3)[0]
    assert (top.title, top.match) == (title, Match.ALIAS)
    assert top.score >= THRESHOLD


def test_the_rest_of_the_prompt_picks_between_articles_of_one_name(index: KnowledgeIndex) -> None:
    element = index.retrieve("what is the boiling point of mercury", 3)
    planet = index.retrieve("how many days does mercury take to orbit the sun", 3)
    assert element[0].title == "Mercury (element)" and planet[0].title == "Mercury (planet)"
    assert element[0].score > element[1].score


def test_named_entities_come_before_text_matches(index: KnowledgeIndex) -> None:
    found = index.retrieve("who discovered penicilin", 3)
    assert [p.match for p in found] == sorted((p.match for p in found), key=lambda m: m == Match.TEXT)
    assert found[0].title == "Penicillin" and any(p.title == "Alexander Fleming" for p in found)


@pytest.mark.parametrize(
    "prompt",
    [
        "who is quintar malveen",
        "who is john malveen",
        "fix the grammar of this sentence",
        "what is 17 * 23",
        "write a python function to reverse a list",
        "hi how are you",
        "translate good morning into french",
    ],
)
def test_prompts_that_need_no_background_score_below_the_threshold(index: KnowledgeIndex, prompt: str) -> None:
    assert all(p.score < THRESHOLD for p in index.retrieve(prompt, 5))


def test_a_task_on_given_text_returns_nothing_even_when_it_names_an_article(index: KnowledgeIndex) -> None:
    assert index.retrieve("what is grammar", 1)[0].title == "Grammar"
    assert index.retrieve("fix the grammar of this sentence: me and him goes", 3) == []


def test_queries_from_many_threads_agree(index: KnowledgeIndex) -> None:
    prompts = ["who was napolean", "what is the captial of frane", "who discovered penicilin"] * 8
    expected = [index.retrieve(p, 2) for p in prompts]
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(lambda p: index.retrieve(p, 2), prompts)) == expected


def test_the_index_is_opened_read_only(index: KnowledgeIndex) -> None:
    index.retrieve("who was napolean", 1)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        index._session().db.execute("DELETE FROM articles")


def test_a_missing_or_foreign_file_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeError) as missing:
        KnowledgeIndex.open(tmp_path / "none.sqlite")
    assert missing.value.kind == KnowledgeFailure.MISSING
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE t(x)").connection.commit()
    with pytest.raises(KnowledgeError) as foreign:
        KnowledgeIndex.open(other)
    assert foreign.value.kind == KnowledgeFailure.BAD_INDEX


def test_spellings_come_from_the_corpus_vocabulary(index: KnowledgeIndex) -> None:
    assert index.spellings("frane") == ["france"]
    assert index.spellings("penicilin") == ["penicillin"]
    assert "planet" in index.spellings("planets")
    assert index.spellings("quintar") == []


def test_a_sqlite_without_fts5_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from adapters.knowledge import build

    real_connect = sqlite3.connect

    class NoFts5:
        def __init__(self) -> None:
            self.db = real_connect(":memory:")

        def execute(self, sql: str) -> sqlite3.Cursor:
            if "fts5" in sql:
                raise sqlite3.OperationalError("no such module: fts5")
            return self.db.execute(sql)

        def close(self) -> None:
            self.db.close()

    monkeypatch.setattr(sqlite3, "connect", lambda *_args, **_kw: NoFts5())
    with pytest.raises(KnowledgeError) as failure:
        build.check_fts5()
    assert failure.value.kind == KnowledgeFailure.NO_FTS5 and "no FTS5" in str(failure.value)
