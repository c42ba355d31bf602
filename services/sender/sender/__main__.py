from sender.app import SERVICE, create_app
from sender.settings import SenderSettings
from shared.http import serve


def main() -> None:
    serve(SenderSettings, service=SERVICE, create_app=create_app, port=lambda s: s.sender_port)


if __name__ == "__main__":
    main()
