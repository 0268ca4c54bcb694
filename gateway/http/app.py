"""The app factory: routes, error rendering, and the lifespan that owns clients and the probe task."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence

from fastapi import FastAPI
from prometheus_client.registry import Collector

from config import Cluster
from gateway.http.access import ClientKeys, RequireClientKey
from gateway.http.body_limits import BodySizeLimit
from gateway.http.error_handlers import install_error_handlers
from gateway.http.openapi import install_openapi
from gateway.http.request_ids import RequestIds
from gateway.http.routes import admin, chat, ops, refine
from gateway.http.state import GatewayState
from gateway.http.telemetry import RequestTelemetry


def create_app(
    cluster: Cluster, after_startup: Callable[[], None] | None = None, collectors: Sequence[Collector] = ()
) -> FastAPI:
    """A gateway for this cluster; nothing is connected until the app starts.

    `after_startup` runs once the state is built, before the first request (the server process uses it).
    `collectors` are served on /metrics beside the gateway's own (`mpr up` adds its workers' restarts).
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = GatewayState.build(cluster)
        app.state.gateway = state
        for collector in collectors:
            state.metrics.registry.register(collector)
        probe_task = asyncio.create_task(state.prober.run_forever())
        if after_startup is not None:
            after_startup()
        try:
            yield
        finally:
            probe_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await probe_task
            await state.pool.aclose()
            await state.targets.aclose()
            await state.idempotency.aclose()
            if state.knowledge is not None:
                state.knowledge.close()

    app = FastAPI(title="mpr-gateway", version="0.1.0", lifespan=lifespan)
    install_error_handlers(app)
    app.include_router(ops.router)
    app.include_router(refine.router)
    app.include_router(chat.router)
    app.include_router(admin.router)
    install_openapi(app)
    # Pure ASGI middleware (streaming-safe): the size limit inside, the key check outside it (401 first).
    app.add_middleware(BodySizeLimit, max_bytes=cluster.limits.max_body_bytes)
    app.add_middleware(RequireClientKey, keys=ClientKeys(cluster.auth))
    # Outer: counts what inner middleware rejects.
    app.add_middleware(RequestTelemetry)
    # Outermost (added last): the request id is chosen before anything else and set on every response.
    app.add_middleware(RequestIds)
    return app
