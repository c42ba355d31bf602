from pydantic import AnyHttpUrl, Field

from shared.settings import Settings


class SenderSettings(Settings):
    ses_from_email: str = Field(min_length=3)
    public_base_url: AnyHttpUrl
