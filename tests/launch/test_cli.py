"""The `mpr launch` and `mpr adapters` command trees: --help everywhere, plan/validate/systemd outputs."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from adapters.cli import add_adapters_commands
from launch.cli import add_launch_commands

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "cluster.example.yaml"


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="mpr")
    commands = root.add_subparsers(dest="command", required=True)
    add_launch_commands(commands)
    add_adapters_commands(commands)
    return root


def run(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    code: int = args.handler(args)
    return code


@pytest.mark.parametrize(
    "argv",
    [["launch"], ["launch", "plan"], ["launch", "worker"], ["launch", "status"], ["launch", "systemd"],
     ["adapters"], ["adapters", "validate"], ["adapters", "demo"], ["adapters", "toolchain"]],
)  # fmt: skip
def test_help_works_everywhere(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parser().parse_args([*argv, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: mpr {' '.join(argv)}" in capsys.readouterr().out


def test_plan_prints_four_nodes_without_the_key(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("MPR_WORKER_API_KEY", raising=False)
    monkeypatch.setenv("MPR_HOME", str(tmp_path))
    assert run(["launch", "plan", "--cluster", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "jw1 is the gateway node: no vLLM workers" in out
    for node in ("jw2", "jw3", "kcloud"):
        assert f"== node {node}: 2 server(s)" in out
    assert out.count("VLLM_API_KEY=<from MPR_WORKER_API_KEY>") == 6
    assert "    --max-lora-rank\n    16\n" in out


def test_plan_for_a_node_without_workers(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["launch", "plan", "--cluster", str(EXAMPLE), "--node", "jw1"]) == 0
    assert capsys.readouterr().out.strip() == "== node jw1\n  jw1 is the gateway node: no vLLM workers"


def test_systemd_command_writes_units(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = run(["launch", "systemd", "--cluster", str(EXAMPLE), "--node", "jw3", "--out", str(tmp_path)])
    assert code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mpr-worker-jw3-3b.service", "mpr-worker-jw3-8b.service"]
    assert "systemctl enable --now mpr-worker-jw3-3b.service mpr-worker-jw3-8b.service" in capsys.readouterr().out


def test_validate_example_fails_with_one_line_per_adapter(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["adapters", "validate", "--cluster", str(EXAMPLE), "--node", "kcloud"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "FAIL grammar-3b: adapter folder /home/models/llama32_3b_grammar_lora does not exist",
        "FAIL grammar-8b: adapter folder /home/models/llama31_8b_grammar_lora does not exist",
        "FAIL wikidata-3b: adapter folder /home/models/llama32_3b_knowledge_wiki_only_lora does not exist",
        "FAIL wikidata-8b: adapter folder /home/models/llama31_8b_knowledge_wiki_only_lora does not exist",
        "0/4 adapters valid (node kcloud)",
    ]


def test_worker_refuses_invalid_adapters_before_any_engine_work(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MPR_WORKER_API_KEY", "k")
    monkeypatch.setenv("MPR_HOME", str(tmp_path))  # an engine toolchain would be built here: nothing must appear
    assert run(["launch", "worker", "--cluster", str(EXAMPLE), "--node", "jw3"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("error: adapters failed validation")
    assert err[1:] == [
        "FAIL wikipedia-3b: adapter folder /home/models/llama32_3b_wikipedia_only_lora does not exist",
        "FAIL wikipedia-8b: adapter folder /home/models/llama31_8b_wikipedia_only_lora does not exist",
    ]
    assert list(tmp_path.iterdir()) == []


def test_status_reports_down_worker(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    cluster = tmp_path / "c.yaml"
    cluster.write_text(EXAMPLE.read_text().replace("api_key_env: MPR_WORKER_API_KEY", "api_key: k")
                       .replace("http://jw", "http://127.0.0.1:1/jw").replace("http://kcloud", "http://127.0.0.1:1/k")
                       .replace("prompt_file: prompts/", f"prompt_file: {EXAMPLE.parent}/prompts/"))  # fmt: skip
    assert run(["launch", "status", "--cluster", str(cluster), "--node", "jw2", "--timeout", "1"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["WORKER", "URL", "STATE", "HEALTH", "MODELS", "DETAIL"]
    assert [line.split()[:3] for line in out[1:]] == [
        ["jw2-3b", "http://127.0.0.1:1/jw2:8002/v1", "down"],
        ["jw2-8b", "http://127.0.0.1:1/jw2:8012/v1", "down"],
    ]
