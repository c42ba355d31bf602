from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from api_gateway import prospects
from api_gateway.auth import actor
from api_gateway.http.context import pool, settings, who
from api_gateway.schemas import (
    ImportQuery,
    Prospect,
    ProspectBulk,
    ProspectCreate,
    ProspectQuery,
    ProspectUpdate,
)
from shared.errors import ApiError, TooLarge
from shared.http import model_response
from shared.lifecycle.prospect import ImportOrigin
from shared.requests import json_body, path_uuid, query, validate

# Not text/plain: a cross-site form can post text/plain (and multipart) without a preflight.
# What stops such a post is the bearer token no form can carry; refusing text/plain keeps
# the import from ever reading a page's form as a file.
CSV_TYPES = ("text/csv", "application/csv", "application/vnd.ms-excel")
MULTIPART = "multipart/form-data"
CHUNK_BYTES = 256 * 1024


async def create_prospect(request: web.Request) -> web.Response:
    data = await json_body(request, ProspectCreate)
    row = await prospects.create(pool(request), data, key=settings(request).address_key, actor=actor(request))
    return model_response(Prospect.model_validate(dict(row)), status=201)


async def list_prospects(request: web.Request) -> web.Response:
    return model_response(await prospects.search(pool(request), query(request, ProspectQuery)))


async def get_prospect(request: web.Request) -> web.Response:
    row = await prospects.get(pool(request), path_uuid(request))
    return model_response(Prospect.model_validate(dict(row)))


async def update_prospect(request: web.Request) -> web.Response:
    data = await json_body(request, ProspectUpdate)
    row = await prospects.update(pool(request), path_uuid(request), data, **who(request))
    return model_response(Prospect.model_validate(dict(row)))


async def bulk_change(request: web.Request) -> web.Response:
    data = await json_body(request, ProspectBulk)
    return model_response(await prospects.bulk(pool(request), data, **who(request)))


async def delete_prospect(request: web.Request) -> web.Response:
    await prospects.erase(pool(request), path_uuid(request), **who(request))
    return web.Response(status=204)


async def import_prospects(request: web.Request) -> web.Response:
    if request.content_type not in (*CSV_TYPES, MULTIPART):
        raise ApiError(
            415,
            "unsupported_media_type",
            "Send the file as text/csv, or as the part `file` of multipart/form-data.",
        )
    # ?tag= repeats: every value counts (the generic reader keeps the last of a repeated key).
    options = validate(
        ImportQuery,
        {key: request.query.getall(key) if key == "tag" else request.query[key] for key in request.query},
    )
    limit = settings(request).import_max_bytes
    if request.content_length is not None and request.content_length > limit:
        raise TooLarge(f"The file is larger than the limit of {limit} bytes; nothing was imported.")
    file_name = options.file_name
    if request.content_type == MULTIPART:
        part = await _find_file_part(request)
        file_name = file_name or (part.filename or "")[:255] or None
        chunks = _file_part(part)
    else:
        chunks = request.content.iter_chunked(CHUNK_BYTES)
    origin = ImportOrigin(
        source=prospects.source_of("import", file=file_name, note=options.note, by=actor(request)),
        lawful_basis=options.lawful_basis,
    )
    report = await prospects.import_csv(
        pool(request),
        chunks,
        max_bytes=limit,
        key=settings(request).address_key,
        tags=tuple(options.tag),
        origin=origin,
        **who(request),
    )
    return model_response(report)


def _malformed(exc: Exception) -> ApiError:
    reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
    return ApiError(
        400, "malformed_multipart", f"The multipart form cannot be read ({reason}); nothing was imported."
    )


async def _find_file_part(request: web.Request) -> BodyPartReader:
    """The form's part named `file` (other fields before it are skipped)."""
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if isinstance(part, BodyPartReader) and part.name == "file":
                return part
            await part.release()
    except (ValueError, AssertionError, HttpProcessingError) as exc:
        raise _malformed(exc) from None
    raise ApiError(400, "missing_file", "The form has no part named `file`: nothing was imported.")


async def _file_part(part: BodyPartReader) -> AsyncIterator[bytes]:
    try:
        while chunk := await part.read_chunk(CHUNK_BYTES):
            yield chunk
    except (ValueError, AssertionError, HttpProcessingError) as exc:
        raise _malformed(exc) from None
