"""API routes declared once: Flask routing and the OpenAPI document share it.

Each operation names its body, query and response models, so the document
served at ``/api/v1/openapi.json`` is generated from the same declarations
that validate requests and serialise responses.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from app.api.constraints import COMPONENT_KEY
from app.api.schemas import ErrorBody

_REF = "#/components/schemas/{model}"
_ERROR_CODES = {
    400: "Malformed request",
    401: "Not signed in or bad token",
    403: "Your role may not do this",
    404: "No such object (or not yours)",
    409: "Conflicts with the object's state",
    503: "A service Almanac needs (Redis) is unavailable",
    413: "Request body too large",
    422: "Validation failed; `fields` names each bad field",
    429: "Too many requests",
}


# Any request may meet it and the HTTP server answers it (gunicorn refuses a request line
# over 4,094 bytes before Almanac sees it), so its body is the server's page, not JSON.
_URI_TOO_LONG = "URL too long for the HTTP server (gunicorn: request line over 4,094 bytes)"


@dataclass(frozen=True)
class Link:
    """An OpenAPI link: a value of this response fills a parameter of another operation."""

    operation_id: str
    parameters: dict[str, str]
    # The response the link hangs on; None means the operation's success status.
    status: int | None = None


def links_to(*operation_ids: str, status: int | None = None, **parameters: str) -> list[Link]:
    """Links from one response to several operations that take the same parameters.

    ``links_to("get_job", "delete_job", job_id="$response.body#/id")``
    """
    return [Link(op_id, dict(parameters), status) for op_id in operation_ids]


@dataclass
class Operation:
    """One method on one path."""

    rule: str
    method: str
    endpoint: str
    summary: str
    tag: str
    status: int
    response: type[BaseModel] | None
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    errors: tuple[int, ...] = (400, 401, 403, 404, 413, 422)
    public: bool = False
    also: dict[int, type[BaseModel]] = field(default_factory=dict)
    description: str | None = None
    links: list[Link] = field(default_factory=list)


@dataclass
class ApiSpec:
    """The registry of operations of one blueprint."""

    blueprint: Blueprint
    operations: list[Operation] = field(default_factory=list)

    def route(
        self, rule: str, method: str, *, summary: str, tag: str, **options: Any
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Register a view for one method on a rule and record it for OpenAPI."""

        def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
            self.blueprint.add_url_rule(rule, view.__name__, view, methods=[method])
            options.setdefault("status", 200)
            options.setdefault("response", None)
            self.operations.append(Operation(rule, method, view.__name__, summary, tag, **options))
            return view

        return decorator

    def document(self, prefix: str, version: str) -> dict[str, Any]:
        """The OpenAPI 3.1 document for every registered operation."""
        paths: dict[str, dict[str, Any]] = {}
        known = {op.endpoint for op in self.operations}
        for op in self.operations:
            unknown = [link.operation_id for link in op.links if link.operation_id not in known]
            if unknown:
                raise ValueError(f"{op.endpoint} links to unknown operations {unknown}")
            path = prefix + _openapi_path(op.rule)
            paths.setdefault(path, {})[op.method.lower()] = _operation_doc(op)
        return {
            "openapi": "3.1.0",
            "info": {"title": "Almanac API", "version": version},
            "servers": [{"url": "/"}],
            "security": [{"bearerAuth": []}, {"cookieAuth": []}],
            "paths": paths,
            "components": {
                "schemas": _component_schemas(self.operations),
                "securitySchemes": {
                    "bearerAuth": {"type": "http", "scheme": "bearer"},
                    "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "session"},
                },
            },
        }


_CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")


def _openapi_path(rule: str) -> str:
    """``/jobs/<uuid:job_id>`` → ``/jobs/{job_id}``."""
    return _CONVERTER.sub(r"{\2}", rule)


def _path_parameters(rule: str) -> list[dict[str, Any]]:
    """Path parameters with their types, from Flask converters."""
    params = []
    for converter, name in _CONVERTER.findall(rule):
        schema = {"type": "string", "format": "uuid"} if converter == "uuid" else {"type": "string"}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return params


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """Query parameters from a model's fields (flat scalars only)."""
    schema = model.model_json_schema(by_alias=True, ref_template=_REF)
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema["properties"].items()
    ]


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": _REF.format(model=model.__name__)}


def _operation_doc(op: Operation) -> dict[str, Any]:
    """One operation object."""
    doc: dict[str, Any] = {
        "operationId": op.endpoint,
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": _path_parameters(op.rule) + (_query_parameters(op.query) if op.query else []),
        "responses": _responses(op),
    }
    if op.description:
        doc["description"] = op.description
    if op.public:
        doc["security"] = []
    if op.body is not None:
        doc["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(op.body)}},
        }
    return doc


def _responses(op: Operation) -> dict[str, Any]:
    """Success and error responses of an operation."""
    success: dict[str, Any] = {"description": "Success"}
    if op.response is not None:
        success["content"] = {"application/json": {"schema": _ref(op.response)}}
    responses = {str(op.status): success}
    for code, model in op.also.items():
        responses[str(code)] = {
            "description": "Accepted",
            "content": {"application/json": {"schema": _ref(model)}},
        }
    for link in op.links:
        response = responses[str(link.status or op.status)]
        name = "".join(word.capitalize() for word in link.operation_id.split("_"))
        response.setdefault("links", {})[name] = {
            "operationId": link.operation_id,
            "parameters": link.parameters,
        }
    error = {"application/json": {"schema": _ref(ErrorBody)}}
    for code in op.errors:
        if op.public and code in (401, 403):
            continue
        responses[str(code)] = {"description": _ERROR_CODES[code], "content": error}
    responses["414"] = {"description": _URI_TOO_LONG}
    return responses


def _component_schemas(operations: list[Operation]) -> dict[str, Any]:
    """JSON Schemas of every model used, request models in validation mode."""
    pairs: dict[tuple[type[BaseModel], str], None] = {(ErrorBody, "serialization"): None}
    for op in operations:
        if op.body is not None:
            pairs[(op.body, "validation")] = None
        if op.response is not None:
            pairs[(op.response, "serialization")] = None
        for model in op.also.values():
            pairs[(model, "serialization")] = None
    _, schemas = models_json_schema(list(pairs), by_alias=True, ref_template=_REF)  # type: ignore[arg-type]
    components = dict(schemas.get("$defs", {}))
    shared: dict[str, Any] = {}
    _hoist(components, shared)
    return components | shared


def _hoist(node: Any, shared: dict[str, Any]) -> None:
    """Replace each schema marked ``x-component`` by a $ref to one shared component.

    A large enum (the time zones) then appears once in the document, not once per field.
    """
    items = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
    for child in items:
        if isinstance(child, dict) and COMPONENT_KEY in child:
            name = child.pop(COMPONENT_KEY)
            kept = {key: child.pop(key) for key in _FIELD_KEYS if key in child}
            for key in _IMPLIED_KEYS:
                child.pop(key, None)
            shared.setdefault(name, dict(child))
            child.clear()
            child.update({"$ref": _REF.format(model=name)} | kept)
        else:
            _hoist(child, shared)


# Keywords of the field itself, kept beside the $ref; and those the enum already implies.
_FIELD_KEYS = ("title", "default")
_IMPLIED_KEYS = ("minLength", "maxLength", "pattern")
