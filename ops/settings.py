"""The operator's settings: the common ones, SES access, and what the checks look at."""

from __future__ import annotations

from shared.settings import SesAccess, Settings


class OperatorSettings(Settings, SesAccess):
    """Everything optional beyond the common part: each command says what it lacks."""

    ses_from_email: str | None = None
    public_base_url: str | None = None
