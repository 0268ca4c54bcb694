"""The app factory: routes, error rendering, and the lifespan that owns clients and the probe task."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from fastapi import FastAPI

from config import Cluster
from gateway.access import ClientKeys, RequireClientKey
from gateway.errors import install_error_handlers
from gateway.limits import BodySizeLimit
from gateway.openapi import install_openapi
from gateway.readiness import probe_forever
from gateway.routes import chat, ops, refine
from gateway.state import GatewayState
from gateway.telemetry import RequestTelemetry


def create_app(cluster: Cluster, after_startup: Callable[[], None] | None = None) -> FastAPI:
    """A gateway for this cluster; nothing is connected until the app starts.

    `after_startup` runs once the state is built, before the first request (the server process uses it).
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = GatewayState.build(cluster)
        app.state.gateway = state
        settings = cluster.gateway
        probe_task = asyncio.create_task(probe_forever(state.pool, state.registry, settings))
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

    app = FastAPI(title="mpr-gateway", version="0.1.0", lifespan=lifespan)
    install_error_handlers(app)
    app.include_router(ops.router)
    app.include_router(refine.router)
    app.include_router(chat.router)
    install_openapi(app)
    # Pure ASGI middleware (streaming-safe): the size limit inside, the key check outside it (401 first).
    app.add_middleware(BodySizeLimit, max_bytes=cluster.limits.max_body_bytes)
    app.add_middleware(RequireClientKey, keys=ClientKeys(cluster.auth))
    # Outermost of our middleware (added last), so it also counts what inner middleware rejects.
    app.add_middleware(RequestTelemetry)
    return app
