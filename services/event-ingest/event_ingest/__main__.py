from event_ingest.app import SERVICE, create_app
from event_ingest.settings import EventIngestSettings
from shared.http import serve


def main() -> None:
    serve(
        EventIngestSettings,
        service=SERVICE,
        create_app=create_app,
        port=lambda s: s.event_ingest_port,
    )


if __name__ == "__main__":
    main()
