"""Reading typed input from aiohttp requests: every failure is a clear 4xx."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from shared.errors import ApiError, Invalid

ModelT = TypeVar("ModelT", bound=BaseModel)
JSON_TYPES = ("application/json",)


def validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    """pydantic's errors without the echoed input (it may hold personal data)."""
    return [
        {"field": ".".join(str(part) for part in error["loc"]) or None, "message": error["msg"]}
        for error in exc.errors(include_url=False, include_input=False)
    ]


def validate(model: type[ModelT], data: Any) -> ModelT:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = validation_details(exc)
        fields = ", ".join(sorted({d["field"] for d in details if d["field"]}))
        message = f"Invalid {fields}." if fields else "The input is invalid."
        raise Invalid(message, code="validation_failed", details=details) from None


async def json_body(request: web.Request, model: type[ModelT]) -> ModelT:
    """The request's JSON body validated into `model` (400/413/415 otherwise)."""
    if request.content_type not in JSON_TYPES:
        raise ApiError(415, "unsupported_media_type", "Send the body as application/json.")
    raw = await request.read()  # bounded by the app's client_max_size (413 above)
    try:
        text = raw.decode(json.detect_encoding(raw), "surrogatepass")  # as json.loads(bytes) does
        data = json.loads(text)
    except UnicodeDecodeError:
        raise Invalid("The body is not valid UTF-8.", code="invalid_json") from None
    except json.JSONDecodeError as exc:
        raise Invalid(
            f"The body is not valid JSON: {exc.msg} at line {exc.lineno}.", code="invalid_json"
        ) from None
    except RecursionError:
        raise Invalid("The body is nested too deeply.", code="invalid_json") from None
    if not isinstance(data, dict):
        raise Invalid("The body must be a JSON object.", code="invalid_json")
    if has_nul_escape(text):
        raise Invalid(NUL_MESSAGE, code="invalid_json")
    return validate(model, data)


def query(request: web.Request, model: type[ModelT]) -> ModelT:
    """The query string validated into `model` (repeated keys: the last wins)."""
    params = {key: request.query.getall(key)[-1] for key in request.query}
    if any("\x00" in key or "\x00" in value for key, value in params.items()):
        raise Invalid(NUL_MESSAGE, code="validation_failed")
    return validate(model, params)


# PostgreSQL text cannot hold U+0000: refused here with a reason instead of failing there.
NUL_MESSAGE = "Text may not contain the NUL character (U+0000)."
# In JSON text a NUL can only be the escape \u0000 (strict parsing refuses raw control
# characters); an escaped backslash followed by "u0000" is not one.
_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


def has_nul_escape(json_text: str) -> bool:
    """Whether valid JSON text holds a NUL character in any string or key (cheap when not)."""
    return "\\u0000" in json_text and _NUL_ESCAPE.search(json_text) is not None


def path_uuid(request: web.Request, name: str = "id") -> uuid.UUID:
    raw = request.match_info[name]
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise Invalid(f"The {name} in the path must be a UUID.", code="invalid_id") from None
