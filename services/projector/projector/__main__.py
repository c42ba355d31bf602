from projector.app import SERVICE, create_app
from projector.settings import ProjectorSettings
from shared.http import serve


def main() -> None:
    serve(ProjectorSettings, service=SERVICE, create_app=create_app, port=lambda s: s.projector_port)


if __name__ == "__main__":
    main()
