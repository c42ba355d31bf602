from pydantic import Field, SecretStr

from shared.settings import MIN_SECRET_LENGTH, Settings


class GatewaySettings(Settings):
    proxy_shared_secret: SecretStr = Field(min_length=MIN_SECRET_LENGTH)
    admin_jwt_secret: SecretStr = Field(min_length=MIN_SECRET_LENGTH)
