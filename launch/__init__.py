"""vLLM worker processes: argument lists, environments and process control from the cluster file."""
