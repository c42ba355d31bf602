"""One campaign's sends, events over time and opt-outs, for the admin's campaign page."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import asyncpg
from aiohttp import web

from api_gateway.adapters import campaigns as campaign_store
from api_gateway.adapters import reports as store
from api_gateway.http.context import pool
from api_gateway.reputation import summarize
from api_gateway.schemas import (
    FeedbackItem,
    FeedbackList,
    ReputationQuery,
    SendPage,
    SendQuery,
    SendRow,
    Timeline,
    TimelinePoint,
    page_info,
)
from shared.errors import NotFound
from shared.http import model_response
from shared.requests import path_uuid, query

FEEDBACK_LIMIT = 500


async def _campaign(conn: asyncpg.Connection, request: web.Request) -> uuid.UUID:
    campaign_id = path_uuid(request)
    if await campaign_store.get(conn, campaign_id) is None:
        raise NotFound(f"No campaign {campaign_id}.")
    return campaign_id


async def list_sends(request: web.Request) -> web.Response:
    params = query(request, SendQuery)
    async with pool(request).acquire() as conn:
        campaign_id = await _campaign(conn, request)
        rows, total = await store.sends(
            conn, campaign_id, search=params.q, status=params.status,
            limit=params.limit, offset=(params.page - 1) * params.limit,
        )  # fmt: skip
    return model_response(
        SendPage(
            items=[SendRow.model_validate(dict(row)) for row in rows],
            total=total,
            page=page_info(params.page, params.limit, total),
        )
    )


async def timeline(request: web.Request) -> web.Response:
    async with pool(request).acquire() as conn:
        bucket, rows = await store.timeline(conn, await _campaign(conn, request))
    counts: dict[datetime, dict[str, int]] = {}
    for row in rows:
        counts.setdefault(row["bucket"], {})[row["kind"]] = row["n"]
    points = []
    if counts:  # every bucket from the first to the last, quiet ones as zeros
        at, step = min(counts), timedelta(seconds=bucket)
        while at <= max(counts):
            points.append(TimelinePoint(at=at, **counts.get(at, {})))
            at += step
    return model_response(Timeline(bucket_seconds=bucket, points=points))


async def feedback(request: web.Request) -> web.Response:
    async with pool(request).acquire() as conn:
        rows = await store.feedback(conn, await _campaign(conn, request), FEEDBACK_LIMIT)
    return model_response(FeedbackList(items=[FeedbackItem.model_validate(dict(row)) for row in rows]))


async def reputation(request: web.Request) -> web.Response:
    params = query(request, ReputationQuery)
    async with pool(request).acquire() as conn:
        rows = await store.reputation(conn, params.days)
    return model_response(summarize(rows))
