"""Downstream targets as a small transport package: the protocol, the HTTP and litellm transports, the pool."""
