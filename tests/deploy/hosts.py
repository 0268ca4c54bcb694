"""Four real hosts on this machine: network namespaces jw1, jw2, jw3, kcloud on a bridge, each with its own sshd.

Only this machine is involved: 10.231.16.0/24 exists only on the bridge and inside the namespaces (which have no
default route), and every process the fixture or a deploy starts inside them is ended by pid at teardown.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

HOSTS = ("jw1", "jw2", "jw3", "kcloud")
SUBNET = "10.231.16"
BRIDGE = "mprdeploy0"
CONTROLLER_ADDRESS = f"{SUBNET}.1"
BASE = Path.home() / ".cache" / "mpr-deploy-fixture"


class HostsUnavailable(Exception):
    """This machine cannot build the topology (not root, or a tool missing): the reason, for a skip."""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def address(host: str) -> str:
    return f"{SUBNET}.{11 + HOSTS.index(host)}"


def requirements_missing() -> str | None:
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    for tool in ("ip", "ssh", "ssh-keygen", "rsync", "/usr/sbin/sshd", "sha256sum"):
        if shutil.which(tool) is None:
            return f"{tool} not installed (.ci/system-deps installs openssh-server, openssh-client, rsync, iproute2)"
    return None


def _namespace_pids(host: str) -> list[int]:
    result = _ip("netns", "pids", host, check=False)
    return [int(p) for p in result.stdout.split()] if result.returncode == 0 else []


def _end_namespace_processes(host: str) -> None:
    """SIGTERM everything running in the namespace (sshd, supervisord, workers), SIGKILL what stays."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = _namespace_pids(host)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + 10
        while _namespace_pids(host) and time.monotonic() < deadline:
            time.sleep(0.2)


def tear_down() -> None:
    """Remove every trace of a topology (also a stale one left by a killed run)."""
    existing = set(_ip("netns", "list", check=False).stdout.split())
    for host in HOSTS:
        if host in existing:
            _end_namespace_processes(host)
            _ip("netns", "del", host, check=False)
    # A deleted namespace's veth pair goes away asynchronously: delete our ends and wait until they are gone.
    for link in [*(f"mprd-{h}" for h in HOSTS), BRIDGE]:
        _ip("link", "del", link, check=False)
        deadline = time.monotonic() + 10
        while _ip("link", "show", link, check=False).returncode == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
    shutil.rmtree(BASE, ignore_errors=True)


@dataclass
class FourHosts:
    """The built topology: where its ssh config, known_hosts and client key are; per-host sshd processes."""

    base: Path = BASE
    sshd: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def ssh_config(self) -> Path:
        return self.base / "ssh_config"

    def host_dir(self, host: str) -> Path:
        return self.base / "hosts" / host

    def ssh(self, host: str, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a command on a host over ssh (an argument list; ssh joins it for the remote shell)."""
        return subprocess.run(["ssh", "-F", str(self.ssh_config), host, "--", *argv],
                              capture_output=True, text=True, check=check, timeout=60)  # fmt: skip

    def start_sshd(self, host: str) -> None:
        log = (self.host_dir(host) / "sshd.log").open("ab")
        config = str(self.host_dir(host) / "sshd_config")
        argv = ["ip", "netns", "exec", host, "/usr/sbin/sshd", "-D", "-e", "-f", config]
        self.sshd[host] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while self.ssh(host, "true", check=False).returncode != 0:
            if time.monotonic() > deadline or self.sshd[host].poll() is not None:
                raise RuntimeError(f"sshd on {host} did not come up: {(self.host_dir(host) / 'sshd.log').read_text()}")
            time.sleep(0.2)

    def stop_sshd(self, host: str) -> None:
        """The node's sshd down: the listener and every open session (ssh multiplexing would keep one alive)."""
        process = self.sshd.pop(host)
        process.terminate()
        process.wait(timeout=10)
        for pid in _namespace_pids(host):
            with contextlib.suppress(OSError):
                if Path(f"/proc/{pid}/comm").read_text().strip().startswith("sshd"):
                    os.kill(pid, signal.SIGTERM)


def _keygen(path: Path, comment: str) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)], check=True)
    return path.with_suffix(".pub").read_text().strip() if path.suffix else Path(f"{path}.pub").read_text().strip()


def _sshd_config(hosts: FourHosts, host: str) -> str:
    d = hosts.host_dir(host)
    return "\n".join([
        "Port 22", f"ListenAddress {address(host)}", f"HostKey {d / 'ssh_host_ed25519_key'}",
        f"PidFile {d / 'sshd.pid'}",
        f"AuthorizedKeysFile {hosts.base / 'authorized_keys'}", "PubkeyAuthentication yes",
        "PasswordAuthentication no", "KbdInteractiveAuthentication no", "PermitRootLogin prohibit-password",
        "UsePAM no", "StrictModes yes", "Subsystem sftp /usr/lib/openssh/sftp-server", "",
    ])  # fmt: skip


def _ssh_config(hosts: FourHosts) -> str:
    blocks = [f"Host {h}\n  HostName {address(h)}\n  HostKeyAlias {h}\n  User root\n" for h in HOSTS]
    common = (
        "Host jw1 jw2 jw3 kcloud\n"
        f"  IdentityFile {hosts.base / 'id_ed25519'}\n  IdentitiesOnly yes\n"
        f"  UserKnownHostsFile {hosts.base / 'known_hosts'}\n  StrictHostKeyChecking yes\n"
        "  BatchMode yes\n  ConnectTimeout 5\n"
    )
    return "".join(blocks) + common


def _network() -> None:
    _ip("link", "add", BRIDGE, "type", "bridge")
    _ip("addr", "add", f"{CONTROLLER_ADDRESS}/24", "dev", BRIDGE)
    _ip("link", "set", BRIDGE, "up")
    for host in HOSTS:
        outside, inside = f"mprd-{host}", f"mprp-{host}"
        _ip("netns", "add", host)
        _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
        _ip("link", "set", inside, "netns", host)
        _ip("link", "set", outside, "master", BRIDGE, "up")
        for args in (("link", "set", "lo", "up"), ("link", "set", inside, "name", "eth0"),
                     ("addr", "add", f"{address(host)}/24", "dev", "eth0"), ("link", "set", "eth0", "up")):  # fmt: skip
            _ip("-n", host, *args)


def build() -> FourHosts:
    """Clean up any leftover, then build the four hosts with keys, sshd, known_hosts and an ssh config."""
    tear_down()
    hosts = FourHosts()
    hosts.base.mkdir(parents=True, mode=0o700)
    client = _keygen(hosts.base / "id_ed25519", "mpr-deploy-test")
    (hosts.base / "authorized_keys").write_text(client + "\n")
    known = []
    for host in HOSTS:
        hosts.host_dir(host).mkdir(parents=True)
        public = _keygen(hosts.host_dir(host) / "ssh_host_ed25519_key", host)
        known.append(f"{host} {' '.join(public.split()[:2])}")
        (hosts.host_dir(host) / "sshd_config").write_text(_sshd_config(hosts, host))
    (hosts.base / "known_hosts").write_text("\n".join(known) + "\n")
    hosts.ssh_config.write_text(_ssh_config(hosts))
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    _network()
    for host in HOSTS:
        hosts.start_sshd(host)
    return hosts
