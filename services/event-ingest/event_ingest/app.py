from aiohttp import web

from event_ingest.adapters.store import GroupCommit, SendLookup
from event_ingest.http import GROUP_COMMIT, INGEST_SETTINGS, SEND_LOOKUP, ses_events
from event_ingest.retention import retention_ctx
from event_ingest.settings import EventIngestSettings
from shared.http import create_base_app

SERVICE = "event-ingest"


def create_app(settings: EventIngestSettings) -> web.Application:
    app = create_base_app(
        settings, service=SERVICE, outbox_relay=True, client_max_size=settings.webhook_max_bytes
    )
    app[INGEST_SETTINGS] = settings
    app[GROUP_COMMIT] = GroupCommit()
    app[SEND_LOOKUP] = SendLookup()
    app.router.add_post("/api/webhooks/ses-events", ses_events)
    app.cleanup_ctx.append(retention_ctx)
    return app
