from __future__ import annotations

from aiohttp import web

from api_gateway import audiences
from api_gateway.http.context import pool, who
from api_gateway.schemas import AudienceQuery, RulePreview, SegmentCreate, SegmentUpdate
from shared.http import model_response
from shared.requests import json_body, path_uuid, query


async def create_segment(request: web.Request) -> web.Response:
    data = await json_body(request, SegmentCreate)
    segment = await audiences.create_segment(pool(request), data, actor=who(request)["actor"])
    return model_response(segment, status=201)


async def list_segments(request: web.Request) -> web.Response:
    return model_response(await audiences.list_segments(pool(request)))


async def get_segment(request: web.Request) -> web.Response:
    return model_response(await audiences.get_segment(pool(request), path_uuid(request)))


async def update_segment(request: web.Request) -> web.Response:
    data = await json_body(request, SegmentUpdate)
    return model_response(await audiences.update_segment(pool(request), path_uuid(request), data))


async def delete_segment(request: web.Request) -> web.Response:
    await audiences.delete_segment(pool(request), path_uuid(request))
    return web.Response(status=204)


async def count_segment(request: web.Request) -> web.Response:
    params = query(request, AudienceQuery)
    async with pool(request).acquire() as conn:
        rule = await audiences.segment_rule(conn, path_uuid(request))
    return model_response(await audiences.sample(pool(request), rule, limit=params.limit))


async def preview_rule(request: web.Request) -> web.Response:
    data = await json_body(request, RulePreview)
    return model_response(await audiences.sample(pool(request), data.rule, limit=data.limit))


async def list_tags(request: web.Request) -> web.Response:
    return model_response(await audiences.tags(pool(request)))


async def list_fields(request: web.Request) -> web.Response:
    return model_response(await audiences.fields(pool(request)))
