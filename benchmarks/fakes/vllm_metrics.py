"""Prometheus metrics of the fake vLLM worker, named and labelled as vLLM 0.32 exports them."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, generate_latest

from benchmarks.fakes.vllm_protocol import FINISH_REASONS


class FakeMetrics:
    """One private registry per fake: per-request metrics carry the base model's name, as in vLLM."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, base_model: str, max_loras: int) -> None:
        self.registry = CollectorRegistry()
        self.max_loras = max_loras
        labels = ["model_name", "engine"]
        lv = (base_model, "0")
        reg = self.registry
        self.running = Gauge(
            "vllm:num_requests_running", "Number of requests in model execution batches.", labels, registry=reg
        ).labels(*lv)
        self.waiting = Gauge(
            "vllm:num_requests_waiting", "Number of requests waiting to be processed.", labels, registry=reg
        ).labels(*lv)
        self.prompt_tokens = Counter(
            "vllm:prompt_tokens", "Number of prefill tokens processed.", labels, registry=reg
        ).labels(*lv)
        self.generation_tokens = Counter(
            "vllm:generation_tokens", "Number of generation tokens processed.", labels, registry=reg
        ).labels(*lv)
        success = Counter(
            "vllm:request_success",
            "Count of successfully processed requests.",
            [*labels, "finished_reason"],
            registry=reg,
        )
        self._success = {reason: success.labels(*lv, reason) for reason in FINISH_REASONS}
        self._lora = Gauge(
            "vllm:lora_requests_info",
            "Running stats on lora requests.",
            ["max_lora", "waiting_lora_adapters", "running_lora_adapters"],
            registry=reg,
        )
        self.waiting.set(0)
        self.update_running(0, [])

    def request_finished(self, finish_reason: str, prompt_tokens: int, generated: int) -> None:
        self._success[finish_reason].inc()
        self.prompt_tokens.inc(prompt_tokens)
        self.generation_tokens.inc(generated)

    def update_running(self, in_flight: int, running_adapters: Iterable[str]) -> None:
        self.running.set(in_flight)
        self._lora.labels(str(self.max_loras), "", ",".join(running_adapters)).set_to_current_time()

    def render(self) -> bytes:
        return generate_latest(self.registry)
