"""GET /api/openapi.json: the OpenAPI 3.1 description, generated from the route table."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from api_gateway.routes import ROUTES, Route
from shared.audience import RULE_JSON_SCHEMA

REF = "#/components/schemas/{model}"
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {},
            },
        }
    },
}
# What each declared auth accepts, as the middleware enforces it (api_gateway.auth).
SECURITY: dict[str, list[dict[str, list[str]]]] = {
    "admin": [{"adminJwt": []}, {"proxySecret": []}],
    "proxy": [{"proxySecret": []}],
    "none": [],
}
SERVICE_ROUTES = {
    "/healthz": "The process is up",
    "/readyz": "Database and broker reachable",
    "/metrics": "Prometheus metrics",
    "/api/openapi.json": "This document",
}


def _models() -> list[type[BaseModel]]:
    seen: dict[str, type[BaseModel]] = {}
    for route in ROUTES:
        for model in (route.body, route.query, route.response):
            if model is not None:
                seen[model.__name__] = model
    return list(seen.values())


def _parameters(route: Route, schemas: dict[str, Any]) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "format": "uuid"},
        }
        for name in re.findall(r"{(\w+)}", route.path)
    ]
    if route.query is not None:
        schema = schemas[route.query.__name__]
        for name, prop in schema.get("properties", {}).items():
            params.append(
                {
                    "name": name,
                    "in": "query",
                    "required": name in schema.get("required", []),
                    "schema": prop,
                }
            )
    return params


def _operation(route: Route, schemas: dict[str, Any]) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": route.summary}
    if route.response is not None:
        ok["content"] = {"application/json": {"schema": {"$ref": REF.format(model=route.response.__name__)}}}
    responses: dict[str, Any] = {str(route.status): ok}
    error = {
        "description": "error",
        "content": {"application/json": {"schema": {"$ref": REF.format(model="Error")}}},
    }
    statuses = [*route.errors, *((401, 403) if route.auth != "none" else ())]
    if route.method in ("POST", "PATCH", "PUT"):
        statuses.append(413)  # any body past the app's size limit, whatever its content
    for status in statuses:
        responses[str(status)] = error
    operation: dict[str, Any] = {
        "summary": route.summary,
        "operationId": route.view.__name__,
        "parameters": _parameters(route, schemas),
        "responses": responses,
        "security": SECURITY[route.auth],
    }
    if route.body is not None:
        body_schema = {"$ref": REF.format(model=route.body.__name__)}
        operation["requestBody"] = {
            "required": True,
            "content": {route.body_type: {"schema": body_schema}},
        }
    elif route.body_type == "text/csv":
        operation["requestBody"] = {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                        "required": ["file"],
                    },
                },
            },
        }
    return operation


def _component_refs(node: Any) -> Any:
    """Replace each `{"x-component": NAME}` marker (schemas.AudienceRule) by its $ref."""
    if isinstance(node, dict):
        if "x-component" in node:
            return {"$ref": REF.format(model=node["x-component"])}
        return {key: _component_refs(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_component_refs(value) for value in node]
    return node


def build_spec() -> dict[str, Any]:
    _, definitions = models_json_schema([(m, "validation") for m in _models()], ref_template=REF)
    schemas: dict[str, Any] = {
        **_component_refs(definitions.get("$defs", {})), "Error": ERROR_SCHEMA, "AudienceRule": RULE_JSON_SCHEMA,
    }  # fmt: skip
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, schemas)
    for path, summary in SERVICE_ROUTES.items():
        operation_id = re.sub(r"\W", "_", path.strip("/"))
        paths[path] = {
            "get": {
                "summary": summary,
                "operationId": operation_id,
                "security": [],
                "responses": {"200": {"description": summary}},
            }
        }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Outreach admin API", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "adminJwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "proxySecret": {"type": "apiKey", "in": "header", "name": "X-Proxy-Secret"},
            },
        },
    }


SPEC = web.AppKey("openapi_spec", dict)


async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(request.app[SPEC])
