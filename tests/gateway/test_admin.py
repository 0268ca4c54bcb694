"""Admin drain/resume: a drained endpoint gets no calls (the backup serves), resume brings it back; access rules."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from benchmarks.fakes import FakeVllmServer
from config import Cluster
from gateway.http.app import create_app
from tests.gateway.conftest import fake_worker, make_cluster

NOISY = {"prompt": "what is the captial of frane", "stages": ["cleaner"]}


@pytest.fixture
def backup_fake() -> Iterator[FakeVllmServer]:
    fake = fake_worker({"clean-a": "/adapters/clean-a", "desc-a": "/adapters/desc-a"})
    yield fake
    fake.stop()


@pytest.fixture
def with_backup(cleaner_fake: FakeVllmServer, describer_fake: FakeVllmServer, backup_fake: FakeVllmServer) -> Cluster:
    return make_cluster(cleaner_fake.base_url, describer_fake.base_url, backup_fake.base_url)


async def _client(cluster: Cluster, peer: str = "127.0.0.1") -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(cluster)
    transport = httpx.ASGITransport(app=app, client=(peer, 40000))
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://gw") as c:
        yield c


async def _cleaner_worker(client: httpx.AsyncClient) -> str:
    response = await client.post("/refine", json=NOISY)
    assert response.status_code == 200
    report = response.json()["stages"]["cleaner"]
    assert report["status"] in ("ok", "rejected")
    return str(report["worker"])


async def test_drained_endpoint_is_skipped_until_resumed(with_backup: Cluster) -> None:
    async for client in _client(with_backup):
        assert await _cleaner_worker(client) == "cleaner-node"
        drained = await client.post("/admin/endpoints/cleaner-node/drain")
        assert drained.status_code == 200
        assert drained.json() == {"endpoint": "cleaner-node", "drained": True, "inflight": 0, "available": False}
        assert {await _cleaner_worker(client) for _ in range(5)} == {"backup-node"}
        listing = (await client.get("/admin/endpoints")).json()["endpoints"]
        assert listing["cleaner-node"]["drained"] is True and listing["backup-node"]["drained"] is False
        resumed = await client.post("/admin/endpoints/cleaner-node/resume")
        assert resumed.json()["drained"] is False and resumed.json()["available"] is True
        assert await _cleaner_worker(client) == "cleaner-node"


async def test_unknown_endpoint_is_404(cluster: Cluster) -> None:
    async for client in _client(cluster):
        response = await client.post("/admin/endpoints/nope/drain")
        assert response.status_code == 404
        assert response.json()["error"]["param"] == "name"


async def test_only_the_gateways_own_host_is_served(cluster: Cluster) -> None:
    async for client in _client(cluster, peer="10.1.2.3"):
        response = await client.post("/admin/endpoints/cleaner-node/drain")
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "admin_from_loopback_only"
        assert (await client.get("/admin/endpoints")).status_code == 403


async def test_with_auth_on_a_client_key_is_needed(
    cleaner_fake: FakeVllmServer, describer_fake: FakeVllmServer
) -> None:
    cluster = make_cluster(cleaner_fake.base_url, describer_fake.base_url, overrides={"auth": {"keys": ["k1"]}})
    async for client in _client(cluster):
        assert (await client.post("/admin/endpoints/cleaner-node/drain")).status_code == 401
        ok = await client.post("/admin/endpoints/cleaner-node/drain", headers={"Authorization": "Bearer k1"})
        assert ok.status_code == 200 and ok.json()["drained"] is True
