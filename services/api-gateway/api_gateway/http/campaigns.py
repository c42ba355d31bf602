from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from api_gateway import campaigns
from api_gateway.adapters import campaigns as store
from api_gateway.http.context import pool, rules, who
from api_gateway.schemas import (
    Campaign,
    CampaignCreate,
    CampaignPage,
    CampaignQuery,
    CampaignRef,
    CampaignStats,
    CampaignSummary,
    CampaignUpdate,
    CampaignWithStats,
    DueQueue,
    DueSend,
    PreviewQuery,
    Retryable,
    RetryRequest,
    StopList,
    StoppedProspect,
    StopResult,
    page_info,
)
from shared.errors import NotFound
from shared.http import REQUEST_ID, model_response
from shared.requests import json_body, path_uuid, query


def _fields(request: web.Request, row: Mapping[str, Any]) -> dict[str, Any]:
    return {**dict(row), "footer_appended": campaigns.footer_appended(row, rules(request))}


def _answer(request: web.Request, row: Mapping[str, Any]) -> Campaign:
    return Campaign.model_validate(_fields(request, row))


async def create_campaign(request: web.Request) -> web.Response:
    row = await campaigns.create(pool(request), await json_body(request, CampaignCreate), rules(request))
    return model_response(_answer(request, row), status=201)


async def list_campaigns(request: web.Request) -> web.Response:
    params = query(request, CampaignQuery)
    async with pool(request).acquire() as conn:
        rows, total = await store.page(conn, limit=params.limit, offset=(params.page - 1) * params.limit)
    items = [
        CampaignSummary.model_validate(
            {**_fields(request, row), "stats": CampaignStats(**store.stats_of(row))}
        )
        for row in rows
    ]
    return model_response(
        CampaignPage(items=items, total=total, page=page_info(params.page, params.limit, total))
    )


async def get_campaign(request: web.Request) -> web.Response:
    row, stats, retryable = await campaigns.get_with_stats(pool(request), path_uuid(request))
    return model_response(
        CampaignWithStats(
            campaign=_answer(request, row),
            stats=CampaignStats(**stats),
            retryable=Retryable(**retryable),
        )
    )


async def retry_campaign(request: web.Request) -> web.Response:
    data = await json_body(request, RetryRequest)
    accepted = await campaigns.retry(pool(request), path_uuid(request), data, **who(request))
    return model_response(accepted, status=202)


async def update_campaign(request: web.Request) -> web.Response:
    data = await json_body(request, CampaignUpdate)
    row = await campaigns.update(pool(request), path_uuid(request), data, rules(request), **who(request))
    return model_response(_answer(request, row))


async def send_campaign(request: web.Request) -> web.Response:
    ref = await json_body(request, CampaignRef)
    accepted = await campaigns.request_send(pool(request), ref.campaignId, rules(request), **who(request))
    return model_response(accepted, status=202)


async def preview_campaign(request: web.Request) -> web.Response:
    params = query(request, PreviewQuery)
    result = await campaigns.preview(
        pool(request),
        path_uuid(request),
        params.prospect_id,
        rules(request),
        member=params.member,
        step=params.step,
    )
    return model_response(result)


async def continue_campaign(request: web.Request) -> web.Response:
    ref = await json_body(request, CampaignRef)
    accepted = await campaigns.continue_sending(
        pool(request), ref.campaignId, correlation_id=request[REQUEST_ID]
    )
    return model_response(accepted, status=202)


async def stop_prospect(request: web.Request) -> web.Response:
    campaign_id, prospect_id = path_uuid(request), path_uuid(request, "pid")
    stopped = await campaigns.stop_prospect(pool(request), campaign_id, prospect_id, **who(request))
    detail = "stopped: nothing more goes to them in this campaign" if stopped else "had stopped already"
    return model_response(
        StopResult(campaign_id=campaign_id, prospect_id=prospect_id, stopped=stopped, detail=detail)
    )


async def list_stops(request: web.Request) -> web.Response:
    params = query(request, CampaignQuery)
    async with pool(request).acquire() as conn:
        if await store.get(conn, path_uuid(request)) is None:
            raise NotFound(f"No campaign {path_uuid(request)}.")
        rows, total = await store.stops(
            conn, path_uuid(request), limit=params.limit, offset=(params.page - 1) * params.limit
        )
    items = [StoppedProspect.model_validate(dict(row)) for row in rows]
    return model_response(
        StopList(items=items, total=total, page=page_info(params.page, params.limit, total))
    )


async def due_queue(request: web.Request) -> web.Response:
    async with pool(request).acquire() as conn:
        campaign = await store.get(conn, path_uuid(request))
        if campaign is None:
            raise NotFound(f"No campaign {path_uuid(request)}.")
        rows = await store.due_next(conn, campaign["id"], campaign["plan_version"], limit=20)
    items = [DueSend.model_validate(dict(row)) for row in rows]
    return model_response(DueQueue(items=items, next_send_at=campaign["next_send_at"]))
