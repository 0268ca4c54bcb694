"""The cluster file: the shipped examples load, and bad files fail with the offending path named."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from config import ConfigError, MprEnvironment, load_cluster

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"


def write(tmp_path: Path, data: dict[str, object]) -> Path:
    (tmp_path / "prompts").mkdir(exist_ok=True)
    (tmp_path / "prompts" / "cleaner.md").write_text("Clean it.")
    (tmp_path / "prompts" / "describer.md").write_text("Describe it.")
    (tmp_path / "prompts" / "describer_grounded.md").write_text("Describe it from the passages.")
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def local_data() -> dict[str, object]:
    data = yaml.safe_load((CONFIG_DIR / "local.yaml").read_text())
    assert isinstance(data, dict)
    return data


def test_local_file_loads_with_prompts_and_expanded_paths(tmp_path: Path) -> None:
    cluster = load_cluster(CONFIG_DIR / "local.yaml", MprEnvironment(home=tmp_path))
    assert cluster.gateway.port == 8000
    assert cluster.models["smollm2-135m"].path == str(tmp_path / "demo" / "smollm2-135m-instruct")
    cleaner = cluster.stages["cleaner"]
    assert cleaner.system_prompt is not None and "<prompt>" in cleaner.system_prompt
    assert cleaner.decoding.apply(cluster.decoding).temperature == 0.0
    assert cluster.stages["describer"].decoding.apply(cluster.decoding).temperature == 0.2
    assert cluster.decoding.seed == 42 and cluster.decoding.top_p == 0.9
    assert cluster.workers[0].root_url == "http://127.0.0.1:8100"


def test_example_has_the_four_node_topology(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MPR_WORKER_API_KEY", "secret")
    cluster = load_cluster(CONFIG_DIR / "cluster.example.yaml")
    assert cluster.gateway.node == "jw1"
    assert cluster.worker_nodes == ["jw2", "jw3", "kcloud"]
    assert {w.role for w in cluster.workers_on("kcloud")} == {"backup"}
    assert all(w.api_key is not None and w.api_key.get_secret_value() == "secret" for w in cluster.workers)
    hosts = {w.url.host for w in cluster.workers}
    assert hosts == {"jw2", "jw3", "kcloud"}
    assert sorted(cluster.nodes) == ["jw1", "jw2", "jw3", "kcloud"]
    assert {n.host for n in cluster.nodes.values()} == set(cluster.nodes)
    assert cluster.nodes["kcloud"].user == "root"


def test_example_ships_host_names_only() -> None:
    text = (CONFIG_DIR / "cluster.example.yaml").read_text()
    addresses = set(re.findall(r"\b\d{1,3}(?:\.\d{1,3}){3}\b", text))
    assert addresses == {"0.0.0.0"}  # the gateway's bind address, not a node


def test_a_worker_on_an_undeclared_node_is_reported(tmp_path: Path) -> None:
    data = local_data()
    data["nodes"] = {"other": {"host": "other"}}
    with pytest.raises(ConfigError, match=r"workers\[0\]\.node: 'local' is not in nodes"):
        load_cluster(write(tmp_path, data))
    data["nodes"] = {"local": {"host": "local"}, "gw": {}}
    data["gateway"] = {"node": "elsewhere"}
    with pytest.raises(ConfigError, match=r"gateway\.node: 'elsewhere' is not in nodes"):
        load_cluster(write(tmp_path, data))


@pytest.mark.parametrize(
    ("node", "error"),
    [
        ({"ssh_options": {"StrictHostKeyChecking": "no"}}, r"host keys are always verified"),
        ({"ssh_options": {"UserKnownHostsFile": "/dev/null"}}, r"host keys are always verified"),
        ({"ssh_options": {"-oProxyCommand": "x"}}, r"not an ssh option name"),
        ({"install_dir": "relative/dir"}, r"nodes\.local\.install_dir"),
        ({"host": "-oProxyCommand=x"}, r"nodes\.local\.host"),
        ({"prot": 22}, r"nodes\.local\.prot: Extra inputs are not permitted"),
    ],
)
def test_bad_node_entries_are_refused(tmp_path: Path, node: dict[str, object], error: str) -> None:
    data = local_data()
    data["nodes"] = {"local": node}
    with pytest.raises(ConfigError, match=error):
        load_cluster(write(tmp_path, data))


def test_node_defaults(tmp_path: Path) -> None:
    data = local_data()
    data["nodes"] = {"local": {"ssh_options": {"ProxyJump": "bastion"}}}
    node = load_cluster(write(tmp_path, data)).nodes["local"]
    assert (node.host, node.user, node.port, node.services) == (None, None, None, "auto")
    assert node.install_dir.startswith("/") and node.mpr_home.startswith("/")


def test_unknown_key_names_its_path(tmp_path: Path) -> None:
    data = local_data()
    data["gateway"] = {"port": 8000, "prot": 1}
    with pytest.raises(ConfigError, match=r"gateway\.prot: Extra inputs are not permitted"):
        load_cluster(write(tmp_path, data))


def test_missing_field_is_reported(tmp_path: Path) -> None:
    data = local_data()
    del data["workers"]
    with pytest.raises(ConfigError, match=r"workers: Field required"):
        load_cluster(write(tmp_path, data))


def test_bad_url_is_reported(tmp_path: Path) -> None:
    data = local_data()
    workers = data["workers"]
    assert isinstance(workers, list)
    workers[0]["url"] = "not a url"
    with pytest.raises(ConfigError, match=r"workers\.0\.url"):
        load_cluster(write(tmp_path, data))


def test_unknown_adapter_reference_is_reported(tmp_path: Path) -> None:
    data = local_data()
    data["stages"]["cleaner"]["adapters"] = {"small": "nope"}  # type: ignore[index]
    with pytest.raises(ConfigError, match=r"stages\.cleaner\.adapters\.small: unknown adapter 'nope'"):
        load_cluster(write(tmp_path, data))


def test_environment_overrides_a_single_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MPR_GATEWAY__PORT", "9123")
    monkeypatch.setenv("MPR_STAGES__CLEANER__TIMEOUT_S", "3.5")
    cluster = load_cluster(write(tmp_path, local_data()))
    assert cluster.gateway.port == 9123
    assert cluster.stages["cleaner"].timeout_s == 3.5
    assert cluster.gateway.host == "127.0.0.1"


def test_missing_prompt_file_and_missing_key(tmp_path: Path) -> None:
    data = local_data()
    data["stages"]["describer"]["prompt_file"] = "prompts/absent.md"  # type: ignore[index]
    with pytest.raises(ConfigError, match=r"stages\.describer\.prompt_file: cannot read"):
        load_cluster(write(tmp_path, data))
    data = local_data()
    data["workers"][0]["api_key_env"] = "MPR_TEST_KEY_THAT_IS_NOT_SET"  # type: ignore[index]
    with pytest.raises(ConfigError, match="MPR_TEST_KEY_THAT_IS_NOT_SET is not set"):
        load_cluster(write(tmp_path, data))


def test_not_yaml_mapping(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_cluster(path)


def test_api_key_from_the_secrets_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = local_data()
    data["workers"][0]["api_key_env"] = "MPR_TEST_WORKER_KEY"  # type: ignore[index]
    secrets = tmp_path / "secrets.env"
    secrets.write_text("MPR_TEST_WORKER_KEY=from-file\n")
    monkeypatch.delenv("MPR_TEST_WORKER_KEY", raising=False)
    monkeypatch.setenv("MPR_SECRETS_FILE", str(secrets))
    worker = load_cluster(write(tmp_path, data)).workers[0]
    assert worker.api_key is not None and worker.api_key.get_secret_value() == "from-file"
    monkeypatch.setenv("MPR_TEST_WORKER_KEY", "from-env")
    worker = load_cluster(write(tmp_path, data)).workers[0]
    assert worker.api_key is not None and worker.api_key.get_secret_value() == "from-env"
