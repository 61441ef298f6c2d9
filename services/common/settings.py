"""Typed settings, read once from ``DESKPULSE_*`` environment variables.

One class per deployable, each holding the keys that service reads: :class:`IngestSettings`,
:class:`AggregatorSettings` and :class:`ApiSettings`, on a common base (:class:`CommonSettings`: where Kafka is,
what the topics are called, the log level). A key two services read (the clock skew, the SLA config, the API's
bind address, the data directory) is declared in both with one shared type, so its constraints and description
cannot drift apart. :class:`Settings` holds every key, for the callers that start or drive several services (the
CLI, the demo, benchmarks, tests); it is an instance of every per-deployable class, so it can be passed to any of
them. Domain modules never read the environment. The full list is documented in ``docs/configuration.md``.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]

# The keys declared in two classes: one type each, so both declarations carry the same constraints and description.
MaxClockSkewSeconds = Annotated[
    float,
    Field(
        gt=0,
        description="How far an event's occurred_at may be ahead of the clock that receives it: beyond it, ingest "
        "refuses a canonical event (400) and stamps a platform's event with its receipt time, and the "
        "aggregator does not apply it (outcome 'future')",
    ),
]
SlaConfigPath = Annotated[Path | None, Field(description="YAML of SLA policies, calendars, goals (docs/sla.md)")]
ApiHost = Annotated[str, Field(description="API bind address (also of the aggregator's metrics endpoint)")]
DataDir = Annotated[Path, Field(description="Local broker data, demo logs and the aggregator's Faust files")]


class CommonSettings(BaseSettings):
    """The keys every deployable shares: the Kafka cluster, the topic names and how deskpulse creates the topics,
    and the log level."""

    model_config = SettingsConfigDict(env_prefix="DESKPULSE_", frozen=True, extra="ignore")

    # Kafka
    kafka_bootstrap: str = Field("127.0.0.1:19092", description="Comma-separated bootstrap brokers")
    events_topic: str = "deskpulse.events.v1"
    dlq_topic: str = "deskpulse.dlq.v1"
    kpis_topic: str = "deskpulse.kpis.v1"
    contacts_topic: str = Field(
        "deskpulse.contacts.v1", description="Compacted topic of one row per contact (drill-down and export)"
    )
    topic_partitions: int = Field(4, ge=1, description="Partitions of the events topic (= aggregator parallelism)")
    topic_replication: int = Field(1, ge=1)

    log_level: str = "INFO"


class IngestSettings(CommonSettings):
    """What the ingest service reads: where it listens, how it treats a webhook, how long it waits for Kafka."""

    ingest_host: str = "127.0.0.1"
    ingest_port: int = 8001
    max_body_bytes: int = Field(1024 * 1024, ge=1024, description="Largest accepted webhook body")
    publish_timeout_s: float = Field(5.0, gt=0, description="Longest wait for Kafka's ack before answering 503")
    producer_linger_ms: int = Field(5, ge=0)
    webhook_secrets_file: Path | None = Field(None, description="YAML of per-account webhook secrets")
    public_base_url: str | None = Field(
        None, description="Public base URL platforms call (for URL-signing platforms behind proxies)"
    )
    signature_tolerance_s: float = Field(300.0, gt=0, description="Replay window for signed timestamps")
    dedupe_cache_size: int = Field(100_000, ge=0, description="Recently accepted event ids remembered per ingest")
    max_clock_skew_s: MaxClockSkewSeconds = 300.0
    allow_open_writes: bool = Field(
        False,
        description="Let ingest listen beyond loopback with no canonical webhook secret: anyone who can reach it "
        "may post any event (off: ingest refuses to start so)",
    )


class AggregatorSettings(CommonSettings):
    """What an aggregator worker reads: its Faust app, batching and publication, and the event-time settings."""

    aggregator_app_id: str = "deskpulse-aggregator"
    snapshot_interval_s: float = Field(0.5, gt=0, description="How often changed scopes are published")
    aggregator_batch_max: int = Field(2_000, ge=1, description="Most events processed as one batch")
    contact_rows: bool = Field(
        True,
        description="Publish one row per contact on DESKPULSE_CONTACTS_TOPIC (the API's drill-down lists and "
        "contacts export); off: no contacts topic, and those routes answer 404",
    )
    aggregator_batch_s: float = Field(
        0.05, gt=0, description="Longest wait to fill a batch before processing what has arrived"
    )
    aggregator_instance_id: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9._-]{1,200}$",
        description="Static group membership (Kafka's group.instance.id): a name unique to this worker and kept "
        "across its restarts (a StatefulSet's pod name), so a restarted worker gets its partitions back at once "
        "instead of after the session timeout; unset: dynamic membership",
    )
    kafka_start_wait_s: float = Field(
        300.0,
        ge=0,
        description="How long a starting aggregator waits for Kafka to answer before it gives up (exit 1)",
    )
    aggregator_standby_replicas: int = Field(
        0,
        ge=0,
        description="Standby copies of each partition's contact table kept current on other workers, for a "
        "failover without a full changelog restore (Faust's table_standby_replicas; needs as many more workers)",
    )

    # Time
    sla_config: SlaConfigPath = None
    grace_s: float = Field(300.0, ge=0, description="Grace period for late events")
    max_clock_skew_s: MaxClockSkewSeconds = 300.0
    contact_retention_s: float = Field(
        3 * 86_400.0,
        ge=2 * 86_400.0,
        description="How long a closed contact stays in memory before its totals are retired",
    )

    api_host: ApiHost = "127.0.0.1"  # `deskpulse aggregator --metrics-port` binds its metrics endpoint to it
    # Faust's files under faust/<app id>: the contact table's databases, one per partition (localstate.py). One
    # directory per worker: two workers on one machine need two.
    data_dir: DataDir = REPO_ROOT / ".deskpulse"


class ApiSettings(CommonSettings):
    """What the read API reads: where it listens, who may call it, its days and SLA config, the staffing forecast."""

    api_host: ApiHost = "127.0.0.1"
    api_port: int = 8000
    api_tokens: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated bearer tokens, each a director; empty and no tokens file = no authentication",
    )
    api_tokens_file: Path | None = Field(
        None, description="YAML of tokens with a role and a reach, kept as hashes (docs/api.md, Roles)"
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Comma-separated origins allowed by CORS ('*' for any); empty = no CORS"
    )

    # Time
    timezone: str = Field("UTC", description="IANA time zone of the 'today' window where no queue sets one")
    day_reset: str = Field("00:00", description="Local time at which 'today' starts")
    sla_config: SlaConfigPath = None

    # Staffing forecast (Erlang C, computed on read per queue: docs/kpis.md#staffing-forecast)
    staffing_window: Literal["15m", "30m", "1h"] = Field(
        "30m", description="Trailing window the staffing forecast takes arrivals and handle time from"
    )
    staffing_target_sl: float = Field(
        0.8, gt=0, le=1, description="Service-level target share where the SLA config sets no service_level goal"
    )
    staffing_shrinkage: float = Field(
        0.0, ge=0, lt=1, description="Share of paid time unavailable for contacts (agents to schedule)"
    )
    staffing_max_occupancy: float = Field(
        0.85, gt=0, le=1, description="Highest acceptable occupancy of the agents needed (1 = no cap)"
    )

    @field_validator("api_tokens", "cors_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value):
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value


class LocalKafkaSettings(CommonSettings):
    """What the local broker reads (``deskpulse kafka``, ``make demo``, the test and benchmark fixtures)."""

    kafka_version: str = "3.9.1"
    kafka_port: int = 19092
    kafka_controller_port: int = 19093
    cache_dir: Path = REPO_ROOT / ".cache"
    data_dir: DataDir = REPO_ROOT / ".deskpulse"


class Settings(IngestSettings, AggregatorSettings, ApiSettings, LocalKafkaSettings):
    """Every key: for the callers that start or drive several services (the CLI, the demo, benchmarks, tests).

    An instance of each per-deployable class, so any service accepts it.
    """


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()


def is_loopback(host: str) -> bool:
    """Whether a bind address reaches only this machine (``127.0.0.1``, ``::1``, ``localhost``, ``127.x``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
