"""Runtime settings, from the environment (prefix ``MODTRIAGE_``) or a ``.env`` file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]

_REPO = Path(__file__).resolve().parent.parent
_REPO_POLICY = _REPO / "policies" / "default.yaml"
_REPO_ENCODER = _REPO / ".cache" / "encoder" / "all-minilm-l6-v2"


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
    data_dir: Path = Field(default=Path(".modtriage"), description="embedded Redis, caches")
    namespace: str = Field(default="modtriage", pattern=r"^[A-Za-z0-9_.-]+$")
    policy: Path = Field(default=_REPO_POLICY)
    classifier: Literal["embedded", "rules"] = Field(
        default="embedded", description="the small model: 'embedded' (CPU) or 'rules' only"
    )
    encoder_dir: Path = Field(
        default=_REPO_ENCODER, description="the ONNX sentence encoder built by `make encoder`"
    )
    encoder_threads: int = Field(default=1, ge=1, le=64, description="onnxruntime intra-op")
    heads: Path | None = Field(
        default=None,
        description="moderation heads (stem of .npz/.json); unset: the ones `modtriage train` "
        "fitted for this policy under data_dir/heads/, else the packaged ones",
    )

    batch_size: int = Field(default=32, ge=1, le=1024)
    block_ms: int = Field(default=200, ge=1)
    claim_idle_ms: int = Field(default=30_000, ge=1, description="reclaim entries pending longer")
    max_deliveries: int = Field(default=5, ge=1, description="then the entry is dead-lettered")
    stream_maxlen: int = Field(default=100_000, ge=100, description="approximate cap per stream")
    model_timeout_s: float = Field(default=10.0, gt=0)
    model_max_chars: int = Field(default=2_000, ge=16, description="model input is truncated")

    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    log_format: Literal["console", "json"] = "console"
    log_level: str = "INFO"

    slack_bot_token: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    discord_token: SecretStr | None = None
    anthropic_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("ANTHROPIC_API_KEY", "MODTRIAGE_ANTHROPIC_API_KEY"),
    )
