"""The app factory: routes, error rendering, and the lifespan that owns clients and the probe task."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from config import Cluster
from gateway.errors import install_error_handlers
from gateway.readiness import probe_forever
from gateway.routes import chat, ops, refine
from gateway.state import GatewayState


def create_app(cluster: Cluster) -> FastAPI:
    """A gateway for this cluster; nothing is connected until the app starts."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = GatewayState.build(cluster)
        app.state.gateway = state
        settings = cluster.gateway
        state.probe_task = asyncio.create_task(
            probe_forever(state.pool, state.registry, settings.probe_interval_s, settings.probe_timeout_s)
        )
        try:
            yield
        finally:
            state.probe_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await state.probe_task
            await state.pool.aclose()

    app = FastAPI(title="mpr-gateway", version="0.1.0", lifespan=lifespan)
    install_error_handlers(app)
    app.include_router(ops.router)
    app.include_router(refine.router)
    app.include_router(chat.router)
    return app
