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

from config.nodes import NodeConfig

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


class RestartPolicy(StrictModel):
    """How `mpr up` restarts a worker whose server exited: capped exponential backoff, then it gives up."""

    backoff_s: float = Field(1.0, gt=0.0, le=600.0)
    max_backoff_s: float = Field(60.0, gt=0.0, le=3600.0)
    # A server that exits within this long of starting failed fast (a crash at start-up or soon after); the
    # count of consecutive fast failures doubles the backoff, and at `max_fast_exits` the worker is given up.
    fast_exit_s: float = Field(300.0, gt=0.0)
    max_fast_exits: int = Field(5, ge=1, le=100)


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
    restart: RestartPolicy = Field(default_factory=RestartPolicy)


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
    # Share of words the arbiter flags as misspelled above which a prompt counts as very noisy.
    large_above_noise: float = Field(0.34, gt=0.0, le=1.0)
    large_noise_min_words: int = Field(4, ge=1)


class SpellingConfig(StrictModel):
    """The spelling model: every dictionary word counts as known; frequent ones are correction targets."""

    min_count: int = Field(300_000, ge=1)
    max_edit_distance: int = Field(2, ge=1, le=3)
    prefix_length: int = Field(4, ge=3, le=10)


class ArbiterConfig(StrictModel):
    """Skip-gate switches and thresholds."""

    enabled: bool = True
    # Cleaner: each misspelled word and each strong cue scores 1, each weak cue `weak_cue_weight`.
    cleaner_min_score: float = Field(1.0, gt=0.0)
    weak_cue_weight: float = Field(0.5, ge=0.0)
    # Describer: named entities and concept questions score 1 each; tasks that need no background veto.
    describer_min_words: int = Field(3, ge=1)
    describer_min_score: float = Field(1.0, gt=0.0)
    # Only this many leading characters are read (a long prompt's head is representative; keeps it under 5 ms).
    scan_chars: int = Field(2000, ge=100)
    spelling: SpellingConfig = Field(default_factory=SpellingConfig)


class MergerConfig(StrictModel):
    """Intent guards for the cleaner and the shape of the knowledge block."""

    max_drift: float = Field(0.45, gt=0.0, le=1.0)
    # Share of content words (either side) without a close counterpart on the other side.
    max_token_drift: float = Field(0.34, gt=0.0, le=1.0)
    min_length_ratio: float = Field(0.6, gt=0.0, le=1.0)
    max_length_ratio: float = Field(1.5, ge=1.0)
    max_sentence_delta: int = Field(1, ge=0)
    knowledge_label: str = "Background (for reference):"
    knowledge_max_lines: int = Field(4, ge=1)
    knowledge_max_chars: int = Field(600, ge=20)
    # A background line is degenerate below this share of distinct words, or above this share of non-words.
    knowledge_min_distinct: float = Field(0.5, gt=0.0, le=1.0)
    knowledge_max_unknown: float = Field(0.4, gt=0.0, le=1.0)
    # A line whose content words are at least this much the prompt's own merely restates it.
    knowledge_max_overlap: float = Field(0.8, gt=0.0, le=1.0)
    # Whose text the cleaned prompt is: `model` = an accepted cleaner output, polished by the local cleaner (for
    # real 3B/8B cleaners, which fix grammar too); `local` = the local cleaner's, plus only the model's word-for-word
    # fixes of misspellings it could not fix and its capitals on multi-word names (the 135M demo: measured better
    # in benchmarks/cleaner_eval.py, where the small model's commas and rewordings changed clean prompts).
    cleaner_lead: Literal["model", "local"] = "model"


class KnowledgeConfig(StrictModel):
    """The grounded describer's encyclopedia: a read-only index file (`mpr knowledge build`, or the demo's)."""

    index: str  # `{home}` and `~` are expanded; each gateway replica opens its own copy read-only
    top_k: int = Field(3, ge=1, le=20)  # passages retrieved per prompt and given to the describer
    # The describer runs only when the top passage scores at least this (benchmarks/knowledge_calibration.py).
    min_score: float = Field(0.508, gt=0.0, le=1.0)
    max_sentences: int = Field(3, ge=1, le=10)  # background sentences kept after the grounding guard
    extract_sentences: int = Field(2, ge=1, le=5)  # the extractive fallback's sentences
    max_passage_chars: int = Field(1200, ge=100)  # each passage as sent to the describer
    # Who writes the background: the describer adapter (its sentences kept only when grounded, the extractive
    # path as its fallback), or the extractive path alone (no describer call; benchmarks/knowledge.py compares).
    writer: Literal["adapter", "extractive"] = "adapter"
    source_name: str = "Wikipedia"  # named in the background block with each sentence's article title


class RetryConfig(StrictModel):
    """The one retry layer: attempts per endpoint for retryable errors, before failing over."""

    attempts: int = Field(2, ge=1, le=5)
    backoff_s: float = Field(0.05, ge=0.0, le=5.0)
    # Longest single call to one endpoint (None: the stage timeout), so a hung primary leaves time for the backup.
    attempt_timeout_s: float | None = Field(None, gt=0.0, le=600.0)


class BreakerConfig(StrictModel):
    """Per-endpoint circuit breaker."""

    failure_threshold: int = Field(3, ge=1)
    cooldown_s: float = Field(5.0, gt=0.0)


class OpenAITargetConfig(StrictModel):
    """A downstream model on an OpenAI-compatible server (a vLLM base model or any other), called directly."""

    kind: Literal["openai"]
    base_url: AnyHttpUrl
    model: str
    api_key_env: str | None = None
    # Filled from api_key_env by the loader; a literal key in the file is allowed but discouraged.
    api_key: SecretStr | None = None
    timeout_s: float = Field(120.0, gt=0.0, le=3600.0)
    # The name the upstream understands for the answer's token limit; the client may send either.
    max_tokens_param: Literal["max_completion_tokens", "max_tokens"] = "max_completion_tokens"
    # The longest SSE line the relay buffers while it waits for the newline; a longer one fails the stream
    # (a target that never sends a newline would otherwise grow the gateway's memory without bound).
    max_sse_line_bytes: int = Field(8 * 1024 * 1024, ge=1024, le=256 * 1024 * 1024)
    # An HTTP proxy for this target. Unset: the loader takes HTTPS_PROXY / HTTP_PROXY unless NO_PROXY covers the
    # host (as the openai client would); `direct: true` ignores those variables.
    proxy: AnyHttpUrl | None = None
    direct: bool = False
    # Request fields this target must never receive: the gateway answers 400 instead of passing them on. vLLM 0.32
    # with --enable-lora dies on `prompt_logprobs` (the LoRA logits layer gets the prompt's tokens with the batch's
    # indices: vllm#16668, vllm#29955), so one client could stop a worker that serves every stage.
    refused_fields: tuple[str, ...] = ()


class LitellmTargetConfig(StrictModel):
    """A downstream model of any other provider, called through litellm (imported only when one is configured)."""

    kind: Literal["litellm"]
    model: str
    api_base: AnyHttpUrl | None = None
    api_key_env: str | None = None
    api_key: SecretStr | None = None
    timeout_s: float = Field(120.0, gt=0.0, le=3600.0)
    refused_fields: tuple[str, ...] = ()  # as for an OpenAI target


TargetConfig = Annotated[OpenAITargetConfig | LitellmTargetConfig, Field(discriminator="kind")]


class GatewaySettings(StrictModel):
    """The gateway process itself."""

    node: str = "local"
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    refine_model: str = "mpr-refine"
    # The overall deadline of one request; a client may ask for less (x-mpr-deadline-ms or a deadline_ms field).
    request_timeout_s: float = Field(30.0, gt=0.0)
    probe_interval_s: float = Field(5.0, gt=0.0)
    probe_timeout_s: float = Field(2.0, gt=0.0)
    # Besides /health, probe each adapter with a one-token completion (vLLM's /health stays 200 on a hung engine).
    probe_adapters: bool = True
    # On SIGTERM: stop accepting, let in-flight requests finish for at most this long, then close.
    drain_timeout_s: float = Field(20.0, gt=0.0, le=600.0)
    max_prompt_chars: int = Field(32_000, ge=1)
    # Prompts longer than this are judged (arbiter, merger guards, local cleaner) in a worker thread, so that their
    # CPU time (about 7 us a character) does not stall every other request on the event loop.
    offload_above_chars: int = Field(2_000, ge=0)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # Put prompt text (and the stage reasons, which quote it) into the per-request log line.
    log_prompts: bool = False


Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-fA-F]{64}$")]


class AuthConfig(StrictModel):
    """Client API keys (`Authorization: Bearer ...`); auth is on as soon as any key or key hash is configured."""

    keys: list[SecretStr] = Field(default_factory=list)
    # sha256 hex digests of keys, so the file need not hold the keys themselves.
    key_sha256: list[Sha256Hex] = Field(default_factory=list)
    # A variable holding comma-separated keys, read by the loader (unset: nothing added).
    keys_env: str | None = "MPR_API_KEYS"
    protect_ready: bool = False
    protect_metrics: bool = False

    @property
    def enabled(self) -> bool:
        return bool(self.keys or self.key_sha256)


class IdempotencyConfig(StrictModel):
    """Idempotency keys: in memory (bounded LRU, the default) or in Redis shared by every gateway replica."""

    redis_url: str | None = Field(None, pattern=r"^(redis|rediss|unix)://")
    ttl_s: float = Field(86_400.0, gt=0.0)
    max_entries: int = Field(10_000, ge=1)
    key_prefix: str = "mpr:idem:"


class LimitsConfig(StrictModel):
    """Request size limits (the prompt length limit is gateway.max_prompt_chars)."""

    max_body_bytes: int = Field(1_048_576, ge=1024)


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
    auth: AuthConfig = Field(default_factory=AuthConfig)
    idempotency: IdempotencyConfig = Field(default_factory=IdempotencyConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    # Downstream models by public name: `model` of a chat request names one to refine-then-answer.
    targets: dict[str, TargetConfig] = Field(default_factory=dict)
    # None: the parametric describer (the adapter alone, as the deployment guide describes).
    knowledge: KnowledgeConfig | None = None
    # Where each node is, for `mpr deploy`; when given, every worker's node and the gateway's must be here.
    nodes: dict[str, NodeConfig] = Field(default_factory=dict)

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
        if self.gateway.refine_model in self.targets:
            raise ValueError(f"targets.{self.gateway.refine_model}: the name is the refine model's")
        self._nodes_declared()
        return self

    def _nodes_declared(self) -> None:
        if not self.nodes:
            return
        for i, worker in enumerate(self.workers):
            if worker.node not in self.nodes:
                raise ValueError(f"workers[{i}].node: {worker.node!r} is not in nodes")
        if self.gateway.node not in self.nodes:
            raise ValueError(f"gateway.node: {self.gateway.node!r} is not in nodes")

    def workers_on(self, node: str) -> list[WorkerConfig]:
        return [w for w in self.workers if w.node == node]

    @property
    def worker_nodes(self) -> list[str]:
        """The nodes that run workers, sorted."""
        return sorted({w.node for w in self.workers})
