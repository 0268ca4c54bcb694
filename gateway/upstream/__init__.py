"""The upstream side: worker and target calls (one call loop), circuit breakers and readiness probes."""
