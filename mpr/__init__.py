"""The `mpr` command: the one place that composes gateway, launch and adapters."""
