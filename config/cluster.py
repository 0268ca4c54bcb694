"""Typed model of the cluster file: workers, adapters, stages, decoding and the gateway's own settings."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    model_validator,
)

Tier = Literal["small", "large"]
StageName = Literal["cleaner", "describer"]
WorkerRole = Literal["primary", "backup"]
STAGE_NAMES: tuple[StageName, ...] = ("cleaner", "describer")


def _one_or_many(value: object) -> object:
    return [value] if isinstance(value, str) else value


NameList = Annotated[list[str], BeforeValidator(_one_or_many)]


class StrictModel(BaseModel):
    """Our own files are strict: an unknown key is an error, named by its path."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Decoding(StrictModel):
    """Sampling defaults sent with every stage call (the seed's decoding.json)."""

    temperature: float = Field(0.2, ge=0.0, le=2.0)
    top_p: float = Field(0.9, gt=0.0, le=1.0)
    max_tokens: int = Field(512, ge=1)
    presence_penalty: float = Field(0.0, ge=-2.0, le=2.0)
    frequency_penalty: float = Field(0.0, ge=-2.0, le=2.0)
    seed: int | None = 42


class DecodingOverrides(StrictModel):
    """Per-stage changes to the decoding defaults; unset fields inherit."""

    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    max_tokens: int | None = Field(None, ge=1)
    presence_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    frequency_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    seed: int | None = None

    def apply(self, base: Decoding) -> Decoding:
        changes = self.model_dump(exclude_none=True)
        return base.model_copy(update=changes)


class BaseModelSpec(StrictModel):
    """A base model a worker serves; `path` is what vLLM loads (a local folder or a hub id)."""

    path: str
    max_model_len: int | None = Field(None, ge=16)
    tier: Tier = "small"


class AdapterSpec(StrictModel):
    """A LoRA adapter: the allow-list entry the gateway may select by name."""

    role: StageName
    tier: Tier
    base: str
    path: str
    rank: int = Field(16, ge=1, le=512)
    alpha: int | None = Field(None, ge=1)
    target_modules: list[str] = Field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    )


class LaunchSpec(StrictModel):
    """How `launch` starts this worker's vLLM server; the gateway ignores it."""

    device: Literal["cuda", "cpu"] = "cuda"
    dtype: str = "auto"
    gpu: int = Field(0, ge=0)
    gpu_memory_utilization: float | None = Field(None, gt=0.0, le=1.0)
    cpu_kvcache_gib: int = Field(1, ge=1)
    cpu_threads_bind: str = "auto"
    max_loras: int | None = Field(None, ge=1)
    python: str | None = None
    extra_args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)


class WorkerConfig(StrictModel):
    """One vLLM OpenAI server: one base model plus the LoRA adapters it serves."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    node: str
    url: AnyHttpUrl
    role: WorkerRole = "primary"
    base: str
    adapters: list[str] = Field(default_factory=list)
    api_key_env: str | None = None
    # Filled from api_key_env by the loader; a literal key in the file is allowed but discouraged.
    api_key: SecretStr | None = None
    launch: LaunchSpec = Field(default_factory=LaunchSpec)

    @property
    def root_url(self) -> str:
        """The server root (where /health and /metrics live), i.e. the URL without its /v1 suffix."""
        text = str(self.url).rstrip("/")
        return text[: -len("/v1")] if text.endswith("/v1") else text

    @property
    def port(self) -> int:
        return self.url.port or (443 if self.url.scheme == "https" else 80)


class StageConfig(StrictModel):
    """A refinement stage: which adapters serve it per tier, its prompt, timeout and decoding."""

    enabled: bool = True
    adapters: dict[Tier, NameList]
    timeout_s: float = Field(10.0, gt=0.0, le=600.0)
    decoding: DecodingOverrides = Field(default_factory=DecodingOverrides)
    prompt_file: str | None = None
    system_prompt: str | None = None

    @model_validator(mode="after")
    def _one_prompt_source(self) -> StageConfig:
        if (self.prompt_file is None) == (self.system_prompt is None):
            raise ValueError("give exactly one of prompt_file or system_prompt")
        if not self.adapters:
            raise ValueError("adapters must name at least one adapter for a tier")
        return self


class RoutingConfig(StrictModel):
    """Tier policy: the large base for long prompts, the small one otherwise."""

    default_tier: Tier = "small"
    large_above_chars: int = Field(1200, ge=1)


class ArbiterConfig(StrictModel):
    """Skip-gate switches and thresholds."""

    enabled: bool = True
    describer_min_words: int = Field(3, ge=1)


class MergerConfig(StrictModel):
    """Intent guards for the cleaner and the shape of the knowledge block."""

    max_drift: float = Field(0.45, gt=0.0, le=1.0)
    min_length_ratio: float = Field(0.6, gt=0.0, le=1.0)
    max_length_ratio: float = Field(1.5, ge=1.0)
    knowledge_label: str = "Background (for reference):"
    knowledge_max_lines: int = Field(4, ge=1)
    knowledge_max_chars: int = Field(600, ge=20)


class RetryConfig(StrictModel):
    """The one retry layer: attempts per endpoint for retryable errors, before failing over."""

    attempts: int = Field(2, ge=1, le=5)
    backoff_s: float = Field(0.05, ge=0.0, le=5.0)


class BreakerConfig(StrictModel):
    """Per-endpoint circuit breaker."""

    failure_threshold: int = Field(3, ge=1)
    cooldown_s: float = Field(5.0, gt=0.0)


class GatewaySettings(StrictModel):
    """The gateway process itself."""

    node: str = "local"
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    refine_model: str = "mpr-refine"
    request_timeout_s: float = Field(30.0, gt=0.0)
    probe_interval_s: float = Field(5.0, gt=0.0)
    probe_timeout_s: float = Field(2.0, gt=0.0)
    max_prompt_chars: int = Field(32_000, ge=1)
    log_level: Literal["debug", "info", "warning", "error"] = "info"


class Cluster(StrictModel):
    """The whole deployment: one file that both the gateway and the launcher read."""

    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    decoding: Decoding = Field(default_factory=Decoding)
    models: dict[str, BaseModelSpec]
    adapters: dict[str, AdapterSpec]
    workers: list[WorkerConfig]
    stages: dict[StageName, StageConfig]
    routing: RoutingConfig = Field(default_factory=RoutingConfig)
    arbiter: ArbiterConfig = Field(default_factory=ArbiterConfig)
    merger: MergerConfig = Field(default_factory=MergerConfig)
    retry: RetryConfig = Field(default_factory=RetryConfig)
    breaker: BreakerConfig = Field(default_factory=BreakerConfig)

    @model_validator(mode="after")
    def _references_resolve(self) -> Cluster:
        names = [w.name for w in self.workers]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"workers: duplicate names {dupes}")
        for name, adapter in self.adapters.items():
            if adapter.base not in self.models:
                raise ValueError(f"adapters.{name}.base: unknown model {adapter.base!r}")
        for i, worker in enumerate(self.workers):
            if worker.base not in self.models:
                raise ValueError(f"workers[{i}].base: unknown model {worker.base!r}")
            for adapter_name in worker.adapters:
                spec = self.adapters.get(adapter_name)
                if spec is None:
                    raise ValueError(f"workers[{i}].adapters: unknown adapter {adapter_name!r}")
                if spec.base != worker.base:
                    raise ValueError(
                        f"workers[{i}].adapters: {adapter_name!r} is for base {spec.base!r},"
                        f" the worker serves {worker.base!r}"
                    )
        for stage_name, stage in self.stages.items():
            for tier, adapter_names in stage.adapters.items():
                for adapter_name in adapter_names:
                    if adapter_name not in self.adapters:
                        raise ValueError(f"stages.{stage_name}.adapters.{tier}: unknown adapter {adapter_name!r}")
        return self

    def workers_on(self, node: str) -> list[WorkerConfig]:
        return [w for w in self.workers if w.node == node]

    @property
    def nodes(self) -> list[str]:
        return sorted({w.node for w in self.workers})
