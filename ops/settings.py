"""The operator's settings: the common ones, SES access, and what the checks look at."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr

from shared.settings import SesAccess, Settings


class OperatorSettings(Settings, SesAccess):
    """Everything optional beyond the common part: each command says what it lacks.
    The commands run whatever the settings: `outreach doctor` reports what production
    refuses (shared.settings.production_problems) instead of refusing to start."""

    refuses_unfit_production: ClassVar[bool] = False

    ses_from_email: str | None = None
    public_base_url: str | None = None
    # smoke-test: the running stack's gateway, and how long to watch the message.
    outreach_api_url: str = "http://localhost:8080"
    proxy_shared_secret: SecretStr | None = None
    smoke_timeout: float = Field(default=90.0, gt=0)
