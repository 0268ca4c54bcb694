"""Admin routes for deployments: drain a worker endpoint out of routing before its restart, then resume it.

Only callers on the gateway's own host (loopback) are served, and with auth on they also need a client key (the
key middleware covers every path but the open ones): `mpr deploy` makes these calls over SSH on the gateway node.
"""

from __future__ import annotations

import ipaddress

from fastapi import APIRouter, Request

from gateway.errors import AdminForbidden, RouteNotFound
from gateway.http.state import gateway_state
from gateway.upstream.breakers import EndpointRegistry

router = APIRouter(prefix="/admin")


def _registry(request: Request) -> EndpointRegistry:
    host = request.client.host if request.client is not None else ""
    try:
        local = ipaddress.ip_address(host).is_loopback
    except ValueError:
        local = False
    if not local:
        raise AdminForbidden("Admin calls are served to the gateway's own host only.")
    return gateway_state(request).registry


def _view(registry: EndpointRegistry, name: str) -> dict[str, object]:
    state = registry.state(name)
    return {"drained": state.drained, "inflight": state.inflight, "available": registry.available(name)}


@router.get("/endpoints")
async def endpoints(request: Request) -> dict[str, object]:
    registry = _registry(request)
    names = gateway_state(request).pool.workers
    return {"endpoints": {name: _view(registry, name) for name in names}}


async def _set(request: Request, name: str, drained: bool) -> dict[str, object]:
    registry = _registry(request)
    try:
        registry.set_drained(name, drained)
    except KeyError:
        raise RouteNotFound(f"No worker endpoint named {name!r}.", param="name") from None
    return {"endpoint": name, **_view(registry, name)}


@router.post("/endpoints/{name}/drain")
async def drain(name: str, request: Request) -> dict[str, object]:
    """No new calls go to the endpoint; the answer's `inflight` says how many are still running."""
    return await _set(request, name, True)


@router.post("/endpoints/{name}/resume")
async def resume(name: str, request: Request) -> dict[str, object]:
    return await _set(request, name, False)
