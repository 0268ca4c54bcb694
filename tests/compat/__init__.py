"""Drop-in compatibility: real client libraries against the gateway over loopback."""
