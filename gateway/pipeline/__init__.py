"""The refinement pipeline: arbiter, router, stage execution with fallback, and merger."""
