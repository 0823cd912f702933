"""Runtime settings, from the environment (prefix ``MODTRIAGE_``) or a ``.env`` file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.errors import ConfigError
from bot.keys import Streams
from bot.tenant import Tenant
from bot.urls import mask_url

__all__ = ["REDIS_SCHEMES", "Settings", "load_settings"]

#: What redis-py connects to; anything else fails deep inside it with a traceback.
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")

# Package data, so an installed modtriage runs wherever it is installed (see pyproject.toml).
_PACKAGE = Path(__file__).resolve().parent
_DEFAULT_POLICY = _PACKAGE / "policies" / "default.yaml"
_ENCODER = _PACKAGE / "classifiers" / "model"
_STOCK_ENCODER = _PACKAGE / "classifiers" / "stock"


class Settings(BaseSettings):
    """Everything an operator can set without editing code. Secrets are ``SecretStr``."""

    model_config = SettingsConfigDict(
        env_prefix="MODTRIAGE_", env_file=".env", extra="ignore", frozen=True
    )

    redis_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("REDIS_URL", "MODTRIAGE_REDIS_URL"),
        description="a Redis 6.2+ URL; unset starts an embedded Redis under data_dir",
    )
    redis_cluster: bool = Field(
        default=False,
        description="REDIS_URL names a node of a Redis Cluster: the cluster client is used",
    )
    data_dir: Path = Field(default=Path(".modtriage"), description="embedded Redis, caches")
    namespace: str = Field(default="modtriage", pattern=r"^[A-Za-z0-9_.-]+$")
    partitions: int = Field(
        default=1,
        ge=1,
        le=1024,
        description="stream partitions, tenants spread over them by a stable hash; one hash "
        "tag each, so a Redis Cluster spreads them over its masters. Change it only as "
        "`modtriage partitions set` does (drain, then switch)",
    )
    worker_partitions: Annotated[tuple[int, ...], NoDecode] = Field(
        default=(),
        description="the partitions a worker reads, comma-separated numbers or ranges "
        "(0-3,7); empty: all of them",
    )
    policy: Path = Field(default=_DEFAULT_POLICY, description="the shipped default policy")
    tenants_file: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("MODTRIAGE_TENANTS", "MODTRIAGE_TENANTS_FILE"),
        description="YAML 'tenants: {<platform>:<workspace>: policy.yaml}'; others use policy",
    )
    classifier: Literal["embedded", "rules", "vllm"] = Field(
        default="embedded",
        description="the small model: 'embedded' (CPU), 'vllm' (a served LLM) or 'rules' only",
    )
    encoder_dir: Path = Field(
        default=_ENCODER,
        description="the ONNX sentence encoder: the fine-tuned one shipped in the package",
    )
    faq_encoder_dir: Path | None = Field(
        default=_STOCK_ENCODER,
        description="the ONNX encoder FAQ matching runs on (question-like messages only): the "
        "stock all-MiniLM-L6-v2 int8 export that `make encoder` copies into the package, which "
        "matches questions better than the moderation-tuned one; unset or missing (a package "
        "built without `make encoder`): the moderation encoder, with a warning",
    )
    encoder_threads: int = Field(default=1, ge=1, le=64, description="onnxruntime intra-op")
    worker_processes: int | None = Field(
        default=None,
        ge=1,
        le=256,
        description="worker processes `modtriage worker` runs under one parent (one core "
        "each); unset: one per CPU this process may use",
    )
    encoder_precision: Literal["int8", "fp32"] = Field(
        default="int8",
        description="int8 weights (2-3x faster; the packaged heads are fitted on it) or fp32",
    )
    heads: Path | None = Field(
        default=None,
        description="moderation heads (stem of .npz/.json); unset: the ones `modtriage train` "
        "fitted for this policy under data_dir/heads/, else the packaged ones",
    )

    # vLLM (classifier="vllm"): the small LLM on /v1/chat/completions, see deploy/vllm/
    vllm_url: str = Field(default="http://127.0.0.1:8000/v1", description="OpenAI-compatible")
    vllm_model: str = Field(default="qwen3-4b-instruct", description="the served model name")
    vllm_prompt_format: Literal[
        "instruct", "llama-guard-3", "qwen3-guard", "shieldgemma", "granite-guardian"
    ] = Field(default="instruct", description="how the model is asked; see deploy/vllm/")
    vllm_api_key: SecretStr | None = Field(default=None, description="vLLM's --api-key, if set")
    vllm_cascade: Literal["every", "uncertain"] = Field(
        default="uncertain",
        description="LLM on every message, or only where the embedded model is unsure",
    )
    vllm_fallback: Literal["embedded", "rules"] = Field(
        default="embedded", description="answers (marked degraded) when vLLM cannot"
    )
    vllm_timeout_s: float = Field(default=5.0, gt=0, description="per request")
    vllm_max_concurrency: int = Field(default=8, ge=1, le=256)
    vllm_retries: int = Field(default=2, ge=0, le=10, description="after the first attempt")
    vllm_breaker_failures: int = Field(default=5, ge=1, description="then the circuit opens")
    vllm_breaker_reset_s: float = Field(default=30.0, gt=0, description="then one probe")
    # the sentence encoder: in-process ONNX, or the same model on vLLM's /v1/embeddings
    encoder: Literal["onnx", "vllm"] = "onnx"
    vllm_embeddings_url: str = Field(default="http://127.0.0.1:8001/v1")
    vllm_embeddings_model: str = "modtriage-minilm-l6-moderation"
    # /mod summary: extractive on the encoder, or written by the vLLM instruct model above
    summary_backend: Literal["embedded", "vllm"] = Field(
        default="embedded", description="'vllm': MODTRIAGE_VLLM_URL's model writes summaries"
    )
    summary_timeout_s: float = Field(default=30.0, gt=0, description="per summary request")

    batch_size: int = Field(default=32, ge=1, le=1024)
    block_ms: int = Field(default=200, ge=1)
    claim_idle_ms: int = Field(default=30_000, ge=1, description="reclaim entries pending longer")
    max_deliveries: int = Field(default=5, ge=1, description="then the entry is dead-lettered")
    stream_maxlen: int = Field(default=100_000, ge=100, description="approximate cap per stream")
    drift_min_messages: int = Field(
        default=500,
        ge=1,
        description="the drift alarm compares a category only when today and the 7 days before "
        "each hold this many scores (fewer: sampling noise alone reaches the watch band)",
    )
    model_timeout_s: float = Field(default=10.0, gt=0)
    model_max_chars: int = Field(default=2_000, ge=16, description="model input is truncated")

    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    metrics_host: str = Field(
        default="127.0.0.1",
        min_length=1,
        description="address the metrics server listens on; 0.0.0.0 in a container",
    )
    log_format: Literal["console", "json"] = "console"
    log_level: str = "INFO"

    slack_bot_token: SecretStr | None = Field(default=None, description="xoxb-: enables Slack")
    slack_app_token: SecretStr | None = Field(
        default=None, description="xapp-: Socket Mode; unset runs HTTP mode on slack_port"
    )
    slack_signing_secret: SecretStr | None = Field(default=None, description="HTTP mode")
    slack_admin_token: SecretStr | None = Field(
        default=None,
        description="xoxp- of a workspace admin (chat:write): deletes members' messages",
    )
    slack_moderators_channel: str | None = Field(
        default=None, description="channel id for review cards; else the policy's"
    )
    slack_host: str = Field(default="0.0.0.0", description="HTTP mode: address to listen on")  # noqa: S104  # a server in a container must listen on all interfaces
    slack_port: int = Field(default=3000, ge=0, le=65535, description="HTTP mode")
    slack_path: str = Field(default="/slack/events", pattern=r"^/")
    slack_api_url: str | None = Field(
        default=None, description="Slack Web API base URL (a proxy); unset is slack.com"
    )
    slack_moderate_bots: bool = Field(default=False, description="also moderate other bots")
    discord_token: SecretStr | None = None
    discord_mod_channel: str | None = Field(
        default=None,
        description="Discord channel id or name for review cards (else the guild's policy's "
        "moderators.channel)",
    )
    workspaces: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="the tenants served, comma-separated <platform>:<workspace> "
        "(slack:T0123,discord:1200000000000000001); events from anywhere else are not moderated",
    )
    discord_dev_guilds: tuple[int, ...] = Field(
        default=(), description="sync /mod to these guild ids at once (development)"
    )
    discord_sync_commands: bool = Field(
        default=True, description="sync application commands globally at start-up"
    )
    discord_automod_mirror: bool = Field(
        default=False, description="mirror the policy's deny lists into a Discord AutoMod rule"
    )
    discord_leave_unlisted: bool = Field(
        default=False,
        description="leave a guild not in MODTRIAGE_WORKSPACES (default: stay and ignore it)",
    )
    anthropic_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("ANTHROPIC_API_KEY", "MODTRIAGE_ANTHROPIC_API_KEY"),
    )

    # Escalation to the frontier model (used only when the policy's escalation.enabled is true).
    # Prices are per million tokens in `frontier_currency`; the defaults are Anthropic's list
    # prices for the default model. Change both together.
    anthropic_base_url: str | None = Field(
        default=None, description="another Messages API endpoint (a proxy or gateway)"
    )
    frontier_model: str = Field(default="claude-sonnet-4-6", min_length=1)
    frontier_price_input: float = Field(default=3.0, ge=0, description="per million input tokens")
    frontier_price_output: float = Field(default=15.0, ge=0, description="per million output")
    frontier_price_cache_write: float = Field(default=3.75, ge=0, description="per million")
    frontier_price_cache_read: float = Field(default=0.30, ge=0, description="per million")
    frontier_currency: str = "USD"
    frontier_daily_budget: float = Field(default=5.0, ge=0, description="0 disables escalation")
    frontier_monthly_budget: float = Field(default=100.0, ge=0)
    frontier_max_input_tokens: int = Field(
        default=3_000, ge=256, description="policy, thread context and message, per call"
    )
    frontier_max_output_tokens: int = Field(default=400, ge=64, le=4_096)
    frontier_timeout_s: float = Field(default=20.0, gt=0, description="per HTTP attempt")
    frontier_max_retries: int = Field(default=2, ge=0, le=10, description="on 429, 5xx, 529")
    frontier_concurrency: int = Field(default=4, ge=1, le=64)
    frontier_cache_ttl_s: int = Field(default=7 * 86400, ge=0, description="0 disables cache")

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(REDIS_SCHEMES):
            raise ValueError(
                f"must be a redis://, rediss:// or unix:// URL, not {mask_url(value)!r}; "
                "fix it, or unset it for an embedded Redis"
            )
        return value

    @field_validator("workspaces", mode="before")
    @classmethod
    def _tenants(cls, value: object) -> object:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)):
            return value
        return tuple(str(Tenant.parse(str(item))) for item in items if str(item).strip())

    @field_validator("worker_partitions", mode="before")
    @classmethod
    def _partition_list(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        chosen: list[int] = []
        for item in (part.strip() for part in value.split(",")):
            if not item:
                continue
            low, sep, high = item.partition("-")
            if not low.isdigit() or (sep and not high.isdigit()):
                raise ValueError(f"{item!r} is not a partition number or a range such as 0-3")
            chosen += range(int(low), int(high if sep else low) + 1)
        return tuple(chosen)

    @model_validator(mode="after")
    def _partitions_known(self) -> Settings:
        wrong = [k for k in self.worker_partitions if k >= self.partitions]
        if wrong:
            raise ValueError(
                f"worker_partitions names {wrong[0]}, but there are {self.partitions} "
                f"partitions (0-{self.partitions - 1}; MODTRIAGE_PARTITIONS)"
            )
        return self

    def streams(self) -> Streams:
        """The Redis names of this deployment: its namespace and partitions."""
        return Streams(namespace=self.namespace, partitions=self.partitions)

    @property
    def tenants(self) -> tuple[Tenant, ...]:
        """The tenants this deployment serves (``workspaces``); empty means any."""
        return tuple(Tenant.parse(t) for t in self.workspaces)


def load_settings(**overrides: Any) -> Settings:
    """The settings from the environment and ``.env``, with ``overrides`` on top.

    Raises:
        ConfigError: a setting is invalid; the message names the variable as it is set
            (``MODTRIAGE_BATCH_SIZE``, ``REDIS_URL``), never with a password in it.
    """
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "_".join(str(p) for p in first["loc"])
        if not name.isupper():  # the field name, not an alias such as REDIS_URL
            name = "MODTRIAGE_" + name.upper()
        cause = first.get("ctx", {}).get("error")
        problem = str(cause) if first["type"] == "value_error" and cause else first["msg"]
        # from None: the validation error's text holds the input, a password in a URL included
        raise ConfigError(f"setting {name}: {problem}") from None
