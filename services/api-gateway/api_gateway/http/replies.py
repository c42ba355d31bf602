"""The replies inbox: GET /api/replies, GET and PATCH /api/replies/{id}."""

from __future__ import annotations

import nh3
from aiohttp import web

from api_gateway.adapters import replies as store
from api_gateway.http.context import actor, pool
from api_gateway.schemas import (
    ReplyDetail,
    ReplyList,
    ReplyQuery,
    ReplySummary,
    ReplyUpdate,
    SentMessage,
    page_info,
)
from shared.errors import NotFound
from shared.http import model_response
from shared.lifecycle import inbound
from shared.requests import json_body, path_uuid, query

# What a reply's HTML keeps: nh3's (ammonia's) default tags less images (a remote image
# is a read receipt to whoever sent it), links without a referrer.
HTML_TAGS = nh3.ALLOWED_TAGS - {"img"}


def sanitised(html: str | None) -> str | None:
    return None if html is None else nh3.clean(html, tags=HTML_TAGS, link_rel="noopener noreferrer nofollow")


async def list_replies(request: web.Request) -> web.Response:
    params = query(request, ReplyQuery)
    async with pool(request).acquire() as conn:
        rows, total = await store.page(
            conn, campaign_id=params.campaign_id, classification=params.classification, handled=params.handled,
            limit=params.limit, offset=(params.page - 1) * params.limit,
        )  # fmt: skip
        unhandled = await store.unhandled(conn)
    items = [ReplySummary.model_validate({**row, "from_": row["from_address"]}) for row in rows]
    return model_response(
        ReplyList(
            items=items, total=total, unhandled=unhandled, page=page_info(params.page, params.limit, total)
        )
    )


async def get_reply(request: web.Request) -> web.Response:
    async with pool(request).acquire() as conn:
        row = await store.one(conn, path_uuid(request))
        if row is None:
            raise NotFound(f"No reply {path_uuid(request)}.")
        sent = await store.sent_to(conn, row["prospect_id"]) if row["prospect_id"] else []
    detail = ReplyDetail.model_validate({
        **row, "from_": row["from_address"], "headers": [tuple(h) for h in row["headers"] or []],
        "text": row["text_body"], "html": sanitised(row["html_body"]), "attachments": row["attachments"] or [],
        "sent": [SentMessage.model_validate(dict(s)) for s in sent],
    })  # fmt: skip
    return model_response(detail)


async def update_reply(request: web.Request) -> web.Response:
    data = await json_body(request, ReplyUpdate)
    reply_id = path_uuid(request)
    if not await inbound.mark_handled(pool(request), reply_id, data.handled, actor(request)):
        raise NotFound(f"No reply {reply_id}.")
    return await get_reply(request)
