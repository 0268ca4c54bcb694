"""LoRA adapters: manifests, validation, the stage message format and the demo adapters."""
