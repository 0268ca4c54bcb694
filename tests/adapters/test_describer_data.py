"""The describer's training data: made from an index, split by article, rendered with the gateway's stage messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters.describer_data import DescriberSpec, generate, lead, read_jsonl, split_of, write_jsonl
from adapters.knowledge.build import build_index
from adapters.knowledge.records import JsonlCorpus, Record
from adapters.progress import Progress
from adapters.training import (
    DEFAULT_CLUSTER,
    ROLE_MAX_SEQ_LEN,
    TrainOptions,
    describer_rows,
    reproduce_command,
    stage_system_prompt,
    trainer_argv,
)
from config.environment import MprEnvironment
from config.stage_messages import render_stage_messages

# Invented subjects (no real-world article needed): each summary's lead says what the subject is.
NAMES = [f"{a}{b}" for a in ("Vorland", "Quessa", "Marotin", "Belkan", "Tirosse") for b in ("ia", "ova", "une", "ath")]


def records() -> list[Record]:
    out = []
    for i, name in enumerate(NAMES):
        text = (
            f"{name} is a mountain kingdom number {i} on the northern coast of the Selvan sea. "
            f"Its capital city trades in salt, wool and copper. The kingdom was founded by shepherds."
        )
        out.append(Record(name, text))
    return out


@pytest.fixture(scope="module")
def index_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("kb")
    source = folder / "toy.jsonl"
    source.write_text("".join(json.dumps({"title": r.title, "text": r.text}) + "\n" for r in records()))
    build_index(JsonlCorpus(source), folder / "toy.sqlite", Progress())
    return folder / "toy.sqlite"


def spec() -> DescriberSpec:
    return DescriberSpec(train=len(NAMES), heldout=len(NAMES), min_score=0.1)


def test_no_heldout_article_appears_in_a_training_example(index_file: Path) -> None:
    examples = generate(index_file, spec())
    heldout = {e.title for e in examples if e.split == "heldout"}
    assert heldout, "the toy corpus has held-out articles"
    assert any(e.split == "train" for e in examples)
    for example in examples:
        assert split_of(example.title) == example.split
        if example.split == "train":
            assert not heldout & {title for title, _ in example.passages}, example


def test_target_is_the_gold_articles_lead_verbatim_and_its_passage_is_given(index_file: Path) -> None:
    by_title = {r.title: r.text for r in records()}
    for example in generate(index_file, spec()):
        assert example.target == lead(by_title[example.title])
        assert example.target in dict(example.passages)[example.title]
        assert example.typo or example.title.lower() in example.prompt.lower()


def test_generation_is_deterministic_and_round_trips(index_file: Path, tmp_path: Path) -> None:
    first, second = generate(index_file, spec()), generate(index_file, spec())
    assert first == second
    digest = write_jsonl(first, tmp_path / "d.jsonl")
    assert len(digest) == 64
    assert read_jsonl(tmp_path / "d.jsonl") == first


def test_lead_adds_the_next_sentence_to_a_very_short_one_and_drops_a_long_one() -> None:
    assert lead("Paris is a city. It is the capital of France.") == "Paris is a city. It is the capital of France."
    assert lead("A" + " word" * 80 + ".") == ""


def test_describer_rows_are_the_gateways_stage_messages_with_passages(index_file: Path, tmp_path: Path) -> None:
    examples = generate(index_file, spec())[:4]
    system_prompt = stage_system_prompt(DEFAULT_CLUSTER, "describer", MprEnvironment())
    for example, row in zip(examples, describer_rows(examples, system_prompt), strict=True):
        assert row["messages"] == render_stage_messages(system_prompt, example.prompt, example.passages)
        assert "<passages>" in row["messages"][1]["content"]
        assert row["target"] == example.target
    options = TrainOptions(role="describer", base=tmp_path / "base", out=tmp_path / "out")
    argv = trainer_argv(Path("/venv/bin/python"), options, tmp_path / "t.jsonl", tmp_path / "h.jsonl")
    assert argv[argv.index("--max-seq-len") + 1] == str(ROLE_MAX_SEQ_LEN["describer"])
    assert reproduce_command(options).startswith("mpr adapters train --role describer")
