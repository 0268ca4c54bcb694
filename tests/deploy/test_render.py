"""The pure part of `mpr deploy`: what each node gets, the inventory, the playbooks, supervisord's file, the table."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml

from config import Cluster, MprEnvironment, load_cluster
from launch.deploy.inventory import DeployOptions, render_inventory, ssh_command
from launch.deploy.playbook import deploy_playbook
from launch.deploy.services import supervisor_conf
from launch.deploy.summary import build_rows, failures, mismatched_files, recap, render_rows, sync_stats
from launch.deploy.topology import DeployError, check_nodes, plan_deployment, served_adapters

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "cluster.example.yaml"


def plans_for(cluster_file: Path = EXAMPLE) -> tuple[Cluster, list]:  # type: ignore[type-arg]
    controller = load_cluster(cluster_file, MprEnvironment(home=Path("/ctl")), require_secrets=False)
    on_node = {n: load_cluster(cluster_file, MprEnvironment(home=Path(c.mpr_home)), require_secrets=False)
               for n, c in controller.nodes.items()}  # fmt: skip
    digests = {a: {"adapter_config.json": "ab" * 32} for a in served_adapters(controller)}
    return controller, plan_deployment(controller, on_node, digests)


def options() -> DeployOptions:
    return DeployOptions(Path("/ctl/bundle"), "mpr_gateway-0.1.0-py3-none-any.whl", "cd" * 32, Path("/ctl/results"))


def test_each_node_gets_exactly_its_workers_adapters_and_the_gateway_comes_last() -> None:
    _, plans = plans_for()
    assert [p.name for p in plans] == ["jw2", "jw3", "kcloud", "jw1"]
    by_name = {p.name: p for p in plans}
    assert [a.name for a in by_name["jw2"].adapters] == ["grammar-3b", "grammar-8b"]
    assert [a.name for a in by_name["kcloud"].adapters] == ["grammar-3b", "wikidata-3b", "grammar-8b", "wikidata-8b"]
    assert by_name["jw1"].adapters == () and by_name["jw1"].is_gateway and by_name["jw1"].role == "gateway"
    assert by_name["jw2"].cuda and not by_name["jw2"].engine
    assert by_name["jw2"].secrets == ("MPR_WORKER_API_KEY",)
    assert "MPR_API_KEYS" in by_name["jw1"].secrets


def test_unknown_node_and_missing_section_are_named(tmp_path: Path) -> None:
    cluster, _ = plans_for()
    with pytest.raises(DeployError, match="--node jw9: not in the cluster file's nodes"):
        check_nodes(cluster, ["jw9"])
    with pytest.raises(DeployError, match="no nodes: section"):
        check_nodes(cluster.model_copy(update={"nodes": {}}), [])


def test_inventory_has_hosts_groups_and_no_secret() -> None:
    _, plans = plans_for()
    inventory = render_inventory(plans, options())
    text = yaml.safe_dump(inventory)
    hosts = inventory["all"]["hosts"]
    assert set(hosts) == {"jw1", "jw2", "jw3", "kcloud"}
    assert hosts["jw2"]["ansible_host"] == "jw2" and hosts["jw2"]["ansible_user"] == "etri"
    assert set(inventory["all"]["children"]["mpr_workers"]["hosts"]) == {"jw2", "jw3", "kcloud"}
    assert set(inventory["all"]["children"]["mpr_gateway"]["hosts"]) == {"jw1"}
    assert "mpr_secrets['MPR_WORKER_API_KEY']" in hosts["jw2"]["mpr_secrets_text"]
    assert "secret" not in text.lower().replace("secrets", "")
    assert "StrictHostKeyChecking" not in text


def test_ssh_command_keeps_host_key_checking_and_quotes_paths() -> None:
    _, plans = plans_for()
    node = plans[0].node.model_copy(
        update={"port": 2222, "identity_file": "/keys/my key", "ssh_options": {"ProxyJump": "bastion"}}
    )
    argv = ssh_command(node, Path("/cfg/ssh config"))
    assert argv == ["ssh", "-F", "/cfg/ssh config", "-o", "ProxyJump=bastion", "-p", "2222", "-l", "etri",
                    "-i", "/keys/my key", "-o", "IdentitiesOnly=yes"]  # fmt: skip
    assert shlex.split(shlex.join(argv)) == argv  # what rsync -e splits back


def test_playbook_plays_and_rolling_serial() -> None:
    plays = deploy_playbook(rolling=False)
    assert [p["hosts"] for p in plays] == ["mpr_workers:mpr_gateway", "mpr_workers", "mpr_gateway"]
    assert "serial" not in plays[1]
    assert deploy_playbook(rolling=True)[1]["serial"] == 1
    commands = [t for p in plays for t in p["tasks"] if "ansible.builtin.command" in t]
    assert commands and all(isinstance(t["ansible.builtin.command"].get("argv"), list) for t in commands)
    text = yaml.safe_dump(plays)
    assert "shell" not in text and "raw:" not in text
    names = [t["name"] for t in plays[2]["tasks"]]
    assert names[-2:] == ["end-to-end check: /refine of the guide's example prompt", "report"]


def test_supervisor_file_runs_launch_worker_and_escapes_percent() -> None:
    _, plans = plans_for()
    jw2 = plans[0].__class__(**{**plans[0].__dict__, "node": plans[0].node.model_copy(update={"mpr_home": "/h/100%"})})
    conf = supervisor_conf(jw2)
    assert "[program:mpr-workers]" in conf and "[program:mpr-gateway]" not in conf
    assert "mpr launch worker --cluster /home/etri/mpr-gateway/config/cluster.yaml --node jw2" in conf
    assert "pidfile=/h/100%%/supervisord.pid" in conf and "autorestart=true" in conf
    assert "MPR_SECRETS_FILE" in conf and "API_KEY=" not in conf


RSYNC_SENT = "Number of regular files transferred: 1\nLiteral data: 1,858,776 bytes\nTotal bytes sent: 1,860,001\n"
RSYNC_NONE = "Number of regular files transferred: 0\nLiteral data: 0 bytes\nTotal bytes sent: 310\n"


def test_table_from_results_and_ansible_output() -> None:
    _, plans = plans_for()
    lines = [
        'fatal: [jw3]: UNREACHABLE! => {"changed": false, "msg": "Failed to connect to the host via ssh: ssh: connect'
        ' to host jw3 port 22: Connection refused", "unreachable": true}',
        "jw2                        : ok=20   changed=0    unreachable=0    failed=0    skipped=3",
        "jw3                        : ok=0    changed=0    unreachable=1    failed=0    skipped=0",
    ]
    results = {"jw2-workers": {"adapter_names": ["grammar-3b"], "adapters_sync": [RSYNC_SENT, RSYNC_NONE],
                               "adapters_before": ["adapter_model.safetensors: FAILED\n"], "wait": 0,
                               "service_manager": "supervisord", "restarted": True}}  # fmt: skip
    rows = build_rows(plans, results, lines)
    jw2, jw3 = rows[0], rows[1]
    assert jw2.stats.files == 1 and jw2.stats.literal_bytes == 1858776 and not jw2.error
    assert "checksum mismatch replaced: adapter_model.safetensors" in jw2.adapters
    assert jw3.error.startswith("unreachable: Failed to connect") and "jw3 port 22" in jw3.error
    table = render_rows(rows)
    assert table.splitlines()[0].split() == ["NODE", "ROLE", "SERVICES", "ADAPTERS", "HEALTH", "CHECK"]
    assert "ERROR jw3: unreachable" in table
    assert recap(lines) == {"jw2": "ok", "jw3": "unreachable"}
    assert sync_stats([RSYNC_NONE]).files == 0 and mismatched_files([""]) == []
    assert failures(['failed: [jw2] (item=x) => {"msg": "One or more items failed"}']) == {}
    item = 'failed: [jw3] (item=x) => {"msg": "Failed to connect: Connection refused", "unreachable": true}'
    closing = 'fatal: [jw3]: UNREACHABLE! => {"msg": "All items completed", "unreachable": true}'
    assert failures([item, closing]) == {"jw3": "unreachable: Failed to connect: Connection refused"}
    with_results = closing.replace('"unreachable": true}', '"unreachable": true, "results": [{"unreachable": true,'
                                   ' "msg": "ssh: connect to host jw3 port 22: Connection refused"}]}')  # fmt: skip
    assert failures([with_results])["jw3"] == "unreachable: ssh: connect to host jw3 port 22: Connection refused"
