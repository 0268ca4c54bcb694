"""Pure routing: the tier for a stage and the ordered endpoints (primary, replicas, backup) to try."""

from __future__ import annotations

from collections.abc import Mapping

from config import Cluster, StageName, Tier
from config.cluster import RoutingConfig
from gateway.upstream.breakers import EndpointView
from gateway.upstream.calls import Route


def choose_tier(
    prompt: str, config: RoutingConfig, pinned: Tier | None = None, misspelled: int = 0, words: int = 0
) -> Tier:
    """The pinned tier, else large for long or very noisy prompts (share of misspelled words), else the default."""
    if pinned is not None:
        return pinned
    if len(prompt) > config.large_above_chars:
        return "large"
    if words >= config.large_noise_min_words and misspelled / words >= config.large_above_noise:
        return "large"
    return config.default_tier


def _routes_for_tier(cluster: Cluster, stage: StageName, tier: Tier) -> list[tuple[int, Route]]:
    routes: list[tuple[int, Route]] = []
    for preference, adapter in enumerate(cluster.stages[stage].adapters.get(tier, [])):
        for worker in cluster.workers:
            if adapter in worker.adapters:
                routes.append((preference, Route(worker.name, adapter, tier, worker.role)))
    return routes


def plan_routes(cluster: Cluster, stage: StageName, tier: Tier, endpoints: Mapping[str, EndpointView]) -> list[Route]:
    """Endpoints to try in order: the chosen tier first, then the other tier; unavailable ones left out.

    Within a tier: primaries before backups, then adapter preference, then the least busy replica.
    """
    other: Tier = "large" if tier == "small" else "small"
    ordered: list[Route] = []
    seen: set[tuple[str, str]] = set()
    for tier_rank, candidate_tier in enumerate((tier, other)):
        scored = []
        for preference, route in _routes_for_tier(cluster, stage, candidate_tier):
            view = endpoints.get(route.worker, EndpointView())
            if not view.available:
                continue
            role_rank = 0 if route.role == "primary" else 1
            scored.append(((tier_rank, role_rank, preference, view.inflight), route))
        for _, route in sorted(scored, key=lambda item: item[0]):
            key = (route.worker, route.adapter)
            if key not in seen:
                seen.add(key)
                ordered.append(route)
    return ordered
