from pydantic import AnyHttpUrl, Field

from shared.settings import Settings


class UnsubscribeSettings(Settings):
    unsubscribe_port: int = 8082
    unsubscribe_rate_limit: int = Field(default=30, ge=1)
    unsubscribe_rate_window_seconds: int = Field(default=60, ge=1)
    unsubscribe_block_seconds: int = Field(default=600, ge=0)
    unsubscribe_rate_limit_enabled: bool = True
    # X-Forwarded-For is believed only from these addresses or networks (comma-separated).
    trusted_proxies: str = ""
    # Where recipients reach this page: when https, every answer carries HSTS.
    public_base_url: AnyHttpUrl | None = None
