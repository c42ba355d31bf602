from api_gateway.app import SERVICE, create_app
from api_gateway.settings import GatewaySettings
from shared.http import serve


def main() -> None:
    serve(GatewaySettings, service=SERVICE, create_app=create_app, port=lambda s: s.gateway_port)


if __name__ == "__main__":
    main()
