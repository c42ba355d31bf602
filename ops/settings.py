"""The operator's settings: the common ones, SES access, and what the checks look at."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr

from ops.roles import SERVICE_ROLES, password_variable
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
    # suppressions sync: the gateway's key, to hash the addresses SES lists.
    suppression_hash_key: SecretStr | None = None
    # `outreach migrate` sets each service role's password (ops.roles); unset: left as it is
    # (local trust or peer authentication needs none).
    outreach_gateway_db_password: SecretStr | None = None
    outreach_ingest_db_password: SecretStr | None = None
    outreach_unsubscribe_db_password: SecretStr | None = None
    outreach_sender_db_password: SecretStr | None = None
    outreach_projector_db_password: SecretStr | None = None

    def role_passwords(self) -> dict[str, str]:
        """Each service role's password that is set, by role name."""
        return {
            role: secret.get_secret_value()
            for role in SERVICE_ROLES.values()
            if (secret := getattr(self, password_variable(role).lower())) is not None
        }
