"""The refinement gateway: an OpenAI-compatible FastAPI app in front of vLLM multi-LoRA workers."""
