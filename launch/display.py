"""Human-readable rendering of server plans (`mpr launch plan`): argv one per line, env, expected adapters."""

from __future__ import annotations

import shlex

from launch.plan import ServerPlan


def render_plan(plan: ServerPlan) -> str:
    """One server's plan; the argv is shell-quoted for display only (the launcher never uses a shell)."""
    lines = [f"worker {plan.worker} (node {plan.node}, {plan.device}) -> {plan.base_url}"]
    lines.append("  argv:")
    lines += [f"    {shlex.quote(arg)}" for arg in plan.argv]
    lines.append("  env:")
    lines += [f"    {key}={value}" for key, value in sorted(plan.display_env().items())]
    lines.append(f"  health: {plan.health_url}")
    lines.append(f"  log: {plan.log_path}")
    adapters = ", ".join(f"{a.name} ({a.path})" for a in plan.adapters) or "none"
    lines.append(f"  expects in /v1/models: {plan.served_model} + adapters {adapters}")
    return "\n".join(lines)


def render_node(node: str, plans: list[ServerPlan], gateway_node: str) -> str:
    """A node's section; a node without workers says so (and whether it is the gateway's)."""
    header = f"== node {node}"
    if not plans:
        role = " is the gateway node" if node == gateway_node else ""
        return f"{header}\n  {node}{role}: no vLLM workers"
    role = " (also runs the gateway)" if node == gateway_node else ""
    return "\n\n".join([f"{header}{role}: {len(plans)} server(s)", *(render_plan(p) for p in plans)])
