"""The refinement pipeline: arbiter, routing, stage execution with fallback, and merger (pure parts and their order)."""
