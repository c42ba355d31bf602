from pydantic import Field

from shared.settings import Settings


class ProjectorSettings(Settings):
    projector_port: int = 8084
    reputation_min_sends: int = Field(default=100, ge=1)
    reputation_max_bounce_rate: float = Field(default=0.05, gt=0, le=1)
    reputation_max_complaint_rate: float = Field(default=0.001, gt=0, le=1)
    # The account-level guard (projector.account_guard): across campaigns, since the kill
    # switch's last re-enable (at most 7 days back); 0 seconds: off.
    account_guard_seconds: float = Field(default=60.0, ge=0)
    account_guard_min_sends: int = Field(default=500, ge=1)
    account_max_bounce_rate: float = Field(default=0.05, gt=0, le=1)
    account_max_complaint_rate: float = Field(default=0.001, gt=0, le=1)
    # Events applied a batch per transaction (shared.consumer.Batcher, projector.handlers.
    # project_batch): up to this many, those that arrive within PROJECTOR_BATCH_WAIT_SECONDS,
    # in a few statements per batch; 1: one event a transaction, up to AMQP_PREFETCH at once.
    # At most half of AMQP_PREFETCH, so one batch fills while the other applies.
    projector_batch_size: int = Field(default=64, ge=1, le=500)
    projector_batch_wait_seconds: float = Field(default=0.005, ge=0, le=1)
    # Room for two batches in hand (the other services keep the shared default).
    amqp_prefetch: int = Field(default=256, ge=1, le=1000)
    # How often the search indexer looks for imports to index (projector.search_indexer).
    search_index_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    # The MX check of prospects' domains (projector.mx_checker): on by default.
    mx_check_enabled: bool = True
    # host or host:port, comma-separated; none: the system's resolvers (/etc/resolv.conf).
    dns_nameservers: str = ""
    mx_check_concurrency: int = Field(default=20, ge=1, le=500)
    mx_check_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    mx_check_poll_seconds: float = Field(default=5.0, gt=0, le=3600)
