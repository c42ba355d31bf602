"""`outreach`: the operator's command line.

outreach migrate                 create the database if missing, apply migrations
outreach ses-register-identity   register SES_FROM_EMAIL's domain with the SES endpoint
                                 (for an emulator; on real SES, verify the domain instead)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

from shared import db
from shared.logging import configure_logging
from shared.migrations import migrate_database
from shared.settings import Settings, load_settings


async def _migrate(settings: Settings) -> None:
    created = await db.ensure_database(settings.database_url)
    if created:
        print(f"created database {db.database_name(settings.database_url)}")
    applied = await migrate_database(settings.database_url)
    print(f"applied {len(applied)} migration(s)" + (f": {', '.join(applied)}" if applied else ""))


async def _register_identity(settings: Settings) -> None:
    from shared.ses import ses_client

    if not settings.ses_from_email or "@" not in settings.ses_from_email:
        raise SystemExit("outreach: SES_FROM_EMAIL must be set to an address")
    if settings.ses_endpoint_url is None:
        raise SystemExit(
            "outreach: SES_ENDPOINT_URL is not set; on real SES verify the domain (docs/deploy.md)"
        )
    domain = settings.ses_from_email.rsplit("@", 1)[1]
    async with ses_client(settings) as ses:
        with contextlib.suppress(ses.exceptions.AlreadyExistsException):
            await ses.create_email_identity(EmailIdentity=domain)
    print(f"identity {domain} registered at {settings.ses_endpoint_url}")


COMMANDS = {"migrate": _migrate, "ses-register-identity": _register_identity}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="outreach", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=sorted(COMMANDS))
    args = parser.parse_args(argv)
    settings = load_settings(Settings, "outreach")
    configure_logging("outreach-cli", level=settings.log_level, fmt="console")
    asyncio.run(COMMANDS[args.command](settings))


if __name__ == "__main__":
    main(sys.argv[1:])
