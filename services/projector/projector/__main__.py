import asyncio
import sys

from projector.app import SERVICE, create_app, options_of
from projector.rebuild import rebuild
from projector.settings import ProjectorSettings
from shared import db
from shared.http import serve
from shared.logging import configure_logging
from shared.settings import load_settings


def main() -> None:
    if sys.argv[1:] == ["rebuild"]:
        settings = load_settings(ProjectorSettings, SERVICE)
        configure_logging(SERVICE, level=settings.log_level, fmt="console")
        print(f"replayed {asyncio.run(_rebuild(settings))} events into fresh read tables")
        return
    serve(ProjectorSettings, service=SERVICE, create_app=create_app, port=lambda s: s.projector_port)


async def _rebuild(settings: ProjectorSettings) -> int:
    async with db.pool_context(settings.database_url) as pool:
        return await rebuild(pool, options_of(settings))


if __name__ == "__main__":
    main()
