"""`mpr up`'s worker restarts on the gateway's /metrics: the collector it passes to the app it creates."""

from __future__ import annotations

from collections.abc import Mapping

from benchmarks.fakes import FakeVllmServer
from gateway.http.app import create_app
from launch.supervision import RestartRecord
from mpr.worker_metrics import WorkerRestartCollector
from tests.gateway.conftest import make_cluster, started_client


class Records:
    """What a supervisor's `snapshot()` returns, changeable between scrapes."""

    def __init__(self) -> None:
        self.records = {"local-cpu": RestartRecord()}

    def snapshot(self) -> Mapping[str, RestartRecord]:
        return dict(self.records)


async def test_restarts_are_served_on_the_gateway_metrics(
    cleaner_fake: FakeVllmServer, describer_fake: FakeVllmServer
) -> None:
    records = Records()
    app = create_app(make_cluster(cleaner_fake.base_url, describer_fake.base_url), collectors=[
        WorkerRestartCollector(records)
    ])  # fmt: skip
    async for client in started_client(app):
        before = (await client.get("/metrics")).text
        records.records["local-cpu"] = RestartRecord(restarts=3, fast_exits=3, last_exit=-9, gave_up=True)
        after = (await client.get("/metrics")).text
    assert 'mpr_worker_restarts_total{worker="local-cpu"} 0.0' in before
    assert 'mpr_worker_given_up{worker="local-cpu"} 0.0' in before
    assert 'mpr_worker_restarts_total{worker="local-cpu"} 3.0' in after
    assert 'mpr_worker_given_up{worker="local-cpu"} 1.0' in after
    assert "mpr_requests_total" in after  # beside the gateway's own metrics


async def test_without_collectors_the_gateway_exports_no_worker_restarts(
    cleaner_fake: FakeVllmServer, describer_fake: FakeVllmServer
) -> None:
    async for client in started_client(create_app(make_cluster(cleaner_fake.base_url, describer_fake.base_url))):
        assert "mpr_worker_restarts" not in (await client.get("/metrics")).text
