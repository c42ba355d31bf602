from shared.http import serve
from unsubscribe.app import SERVICE, create_app
from unsubscribe.settings import UnsubscribeSettings


def main() -> None:
    serve(
        UnsubscribeSettings,
        service=SERVICE,
        create_app=create_app,
        port=lambda s: s.unsubscribe_port,
    )


if __name__ == "__main__":
    main()
