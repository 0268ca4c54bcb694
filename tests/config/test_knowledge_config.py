"""The cluster file's optional `knowledge:` section: absent means the parametric describer; strict when given."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from config import ConfigError, MprEnvironment, load_cluster
from tests.config.test_cluster_file import local_data, write


def test_the_local_default_names_the_demo_index_with_home_expanded(tmp_path: Path) -> None:
    data = local_data()
    path = write(tmp_path, data)
    cluster = load_cluster(path, MprEnvironment(home=tmp_path / "home"))
    assert cluster.knowledge is not None
    assert cluster.knowledge.index == str(tmp_path / "home" / "demo" / "knowledge" / "wikipedia-vital-en.sqlite")
    assert 0.0 < cluster.knowledge.min_score < 1.0 and cluster.knowledge.max_sentences == 3


def test_without_the_section_the_describer_stays_parametric(tmp_path: Path) -> None:
    data = local_data()
    del data["knowledge"]
    assert load_cluster(write(tmp_path, data), MprEnvironment(home=tmp_path)).knowledge is None


@pytest.mark.parametrize(
    ("section", "where"),
    [
        ({"index": "x.sqlite", "top_kk": 3}, "knowledge.top_kk"),
        ({"index": "x.sqlite", "min_score": 1.5}, "knowledge.min_score"),
        ({"top_k": 3}, "knowledge.index"),
    ],
)
def test_a_bad_section_names_the_key(tmp_path: Path, section: dict[str, object], where: str) -> None:
    data = local_data()
    data["knowledge"] = section
    path = write(tmp_path, data)
    with pytest.raises(ConfigError, match=where.replace(".", r"\.")):
        load_cluster(path, MprEnvironment(home=tmp_path))
    assert yaml.safe_load(path.read_text())["knowledge"] == section
