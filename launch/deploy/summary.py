"""The one table at the end (pure): per node its role, services, adapters, health and the check, from the run."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from launch.deploy.topology import NodeDeployment

_RECAP = re.compile(
    r"^(?P<host>\S+)\s+: ok=\d+\s+changed=\d+\s+unreachable=(?P<unreachable>\d+)\s+failed=(?P<failed>\d+)"
)
_FAILURE = re.compile(r"^(?:fatal|failed): \[(?P<host>[^\]]+)\](?P<rest>.*?)=> (?P<json>\{.*\})\s*$")
_LOOP_SUMMARIES = ("One or more items failed", "All items completed")
_FILES = re.compile(r"Number of regular files transferred: ([\d,]+)")
_LITERAL = re.compile(r"Literal data: ([\d,]+) bytes")
_SENT = re.compile(r"Total bytes sent: ([\d,]+)")


@dataclass(frozen=True)
class SyncStats:
    """What rsync reported for a set of copies: files sent, their literal bytes, and bytes on the wire."""

    files: int = 0
    literal_bytes: int = 0
    wire_bytes: int = 0


def _number(pattern: re.Pattern[str], text: str) -> int:
    match = pattern.search(text)
    return int(match.group(1).replace(",", "")) if match else 0


def sync_stats(outputs: list[str]) -> SyncStats:
    return SyncStats(
        sum(_number(_FILES, o) for o in outputs),
        sum(_number(_LITERAL, o) for o in outputs),
        sum(_number(_SENT, o) for o in outputs),
    )


def mismatched_files(outputs: list[str]) -> list[str]:
    """Files `sha256sum --check` found different from the manifest before the copy."""
    return [line.rsplit(":", 1)[0] for o in outputs for line in o.splitlines() if line.endswith(": FAILED")]


def _failure_text(data: Mapping[str, Any]) -> str:
    items = [r for r in data.get("results") or [] if isinstance(r, dict) and (r.get("failed") or r.get("unreachable"))]
    if items and str(data.get("msg", "")).startswith(_LOOP_SUMMARIES):
        data = items[0]  # the loop's closing line: the first failed item says why
    parts = [str(data.get("msg") or "").strip()]
    for key in ("stderr", "stdout"):
        text = str(data.get(key) or "").strip()
        if text and data.get("rc"):
            parts.append(text.splitlines()[-1])
    return "; ".join(p for p in parts if p)[:400]


def failures(lines: list[str]) -> dict[str, str]:
    """The last failure ansible printed per host (unreachable or failed), as one line."""
    found: dict[str, str] = {}
    for line in lines:
        match = _FAILURE.match(line)
        if match is None:
            continue
        try:
            data = json.loads(match.group("json"))
        except ValueError:
            data = {"msg": match.group("json")}
        text = _failure_text(data) if isinstance(data, dict) else str(data)
        # A loop's closing line ("All items completed") would hide the item's own reason, printed before it.
        if not text or text.startswith(_LOOP_SUMMARIES):
            continue
        unreachable = "UNREACHABLE" in match.group("rest") or (isinstance(data, dict) and data.get("unreachable"))
        found[match.group("host")] = f"unreachable: {text}" if unreachable else text
    return found


def recap(lines: list[str]) -> dict[str, str]:
    """Per host: ok, failed or unreachable, from the PLAY RECAP."""
    states: dict[str, str] = {}
    for line in lines:
        match = _RECAP.match(line)
        if match is not None:
            bad = (int(match.group("unreachable")) and "unreachable") or (int(match.group("failed")) and "failed")
            states[match.group("host")] = bad or "ok"
    return states


@dataclass
class NodeRow:
    node: str
    role: str
    services: str = "-"
    adapters: str = "-"
    health: str = "-"
    check: str = "-"
    error: str = ""
    stats: SyncStats = field(default_factory=SyncStats)
    knowledge: SyncStats | None = None  # the gateway node's knowledge index copy, when the cluster has one


def _adapters_cell(result: Mapping[str, Any]) -> tuple[str, SyncStats]:
    names = result.get("adapter_names") or []
    stats = sync_stats(list(result.get("adapters_sync") or []))
    bad = mismatched_files(list(result.get("adapters_before") or []))
    text = f"{len(names)} verified, {stats.files} file(s) sent ({stats.literal_bytes} B)"
    return (text + (f"; checksum mismatch replaced: {', '.join(bad)}" if bad else "")), stats


def _check_cell(result: Mapping[str, Any]) -> str:
    status = result.get("check_status")
    body = result.get("check") or {}
    if status is None:
        return "-"
    refined = str(body.get("refined_prompt") or "").replace("\n", " ")
    stages = ",".join(f"{k}={v.get('status')}" for k, v in (body.get("stages") or {}).items())
    return f"HTTP {status} [{stages}] {refined[:60]!r}"


def build_rows(
    plans: list[NodeDeployment], results: Mapping[str, Mapping[str, Any]], lines: list[str]
) -> list[NodeRow]:
    states, errors = recap(lines), failures(lines)
    rows = []
    for plan in plans:
        row = NodeRow(plan.name, plan.role)
        worker, gateway = results.get(f"{plan.name}-workers", {}), results.get(f"{plan.name}-gateway", {})
        done = gateway or worker
        if done:
            action = "restarted" if done.get("restarted") else "running"
            row.services = f"{done.get('service_manager')}: {action}"
        if worker:
            row.adapters, row.stats = _adapters_cell(worker)
            row.health = "ready (warm)" if worker.get("wait") == 0 else "not checked"
        if gateway.get("knowledge_sync"):
            row.knowledge = sync_stats(list(gateway["knowledge_sync"]))
            index = f"knowledge index: {row.knowledge.files} file(s) sent ({row.knowledge.literal_bytes} B)"
            row.adapters = index if row.adapters == "-" else f"{row.adapters}; {index}"
        if gateway:
            ready = (gateway.get("gateway_ready") or {}).get("ready")
            row.health = f"/health {gateway.get('gateway_health')}, ready={ready}"
            row.check = _check_cell(gateway)
        state = states.get(plan.name)
        if state not in (None, "ok") or plan.name in errors:
            row.error = errors.get(plan.name, state or "")
        rows.append(row)
    return rows


def render_rows(rows: list[NodeRow]) -> str:
    header = ("NODE", "ROLE", "SERVICES", "ADAPTERS", "HEALTH", "CHECK")
    cells = [header] + [(r.node, r.role, r.services, r.adapters, r.health, r.check) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    out = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    out += [f"ERROR {r.node}: {r.error}" for r in rows if r.error]
    return "\n".join(out)
