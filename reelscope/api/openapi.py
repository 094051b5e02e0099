"""The OpenAPI document as this server behaves: FastAPI's schema completed with what holds for
every operation of a kind, so clients (and schemathesis, tests/test_openapi_conformance.py) can
rely on it.

- Security follows the settings: writes declare the bearer token only when the server has one;
  reads declare it only with read_token_required (they are open otherwise).
- Operations that declare the token document 401 (none sent) and 403 (wrong token); every
  state-changing operation documents 403 (cross-site request, BrowserGuard); operations with a
  path parameter document 404; with a request body 413 (body limit); with any input 422 in
  FastAPI's one validation-error shape ({"detail": [{"loc", "msg", "type", ...}]}).
- Everything else a route can answer is declared on the route (schemas.responses).
- Links say where the ids come from (a listed video's id feeds the video's operations, a created
  job's id its status and cancel, ...), for clients and for schemathesis's stateful phase.
"""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from reelscope.api.schemas import ERRORS, ErrorOut
from reelscope.api.security import Settings

SCHEME = "HTTPBearer"
OPEN = {"/api/health"}  # answered without a token even with read_token_required
WRITES = {"post", "put", "patch", "delete"}
VALIDATION = {"$ref": "#/components/schemas/HTTPValidationError"}
VIDEO_OPS = [("get", "/api/videos/{video_id}"), ("get", "/api/videos/{video_id}/shots"),
             ("get", "/api/videos/{video_id}/characters"), ("get", "/api/videos/{video_id}/curves"),
             ("get", "/api/videos/{video_id}/summaries"), ("get", "/api/videos/{video_id}/objects"),
             ("get", "/api/videos/{video_id}/objects/frames"), ("get", "/api/videos/{video_id}/file"),
             ("post", "/api/videos/{video_id}/summaries"), ("get", "/api/videos/{video_id}/transcript")]
JOB_OPS = [("get", "/api/jobs/{job_id}"), ("post", "/api/jobs/{job_id}/cancel"), ("post", "/api/jobs/{job_id}/resume")]
# (source operation, its status, where the id is in its body, target operations, their parameter)
LINKS = [
    (("get", "/api/videos"), "200", "/items/0/id", VIDEO_OPS, "video_id"),
    (("get", "/api/videos/{video_id}/characters"), "200", "/0/id",
     [("get", "/api/characters/{character_id}"), ("post", "/api/characters/{character_id}/name"),
      ("post", "/api/characters/{character_id}/split")], "character_id"),
    (("post", "/api/jobs"), "202", "/id", JOB_OPS, "job_id"),
    (("post", "/api/videos/{video_id}/summaries"), "202", "/id", JOB_OPS, "job_id"),
    (("post", "/api/slideshows"), "202", "/id",
     [("get", "/api/slideshows/{job_id}"), ("post", "/api/slideshows/{job_id}/cancel"),
      ("post", "/api/slideshows/{job_id}/render"), ("get", "/api/slideshows/{job_id}/video")], "job_id"),
]


def _error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}}


def document(app: FastAPI, settings: Settings) -> dict[str, Any]:
    """The app's OpenAPI document (built once, then cached like FastAPI's own)."""
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    comps = doc.setdefault("components", {})
    schemas = comps.setdefault("schemas", {})
    schemas.setdefault("ErrorOut", ErrorOut.model_json_schema())
    _validation_schemas(schemas)
    for name, schema in schemas.items():
        if name.startswith("Body_"):
            _upload_lists(schema)
    for path, item in doc.get("paths", {}).items():
        for method, op in item.items():
            if method not in WRITES | {"get", "head"}:
                continue
            _complete(path, method, op, settings)
    _links(doc["paths"])
    if not settings.token:
        comps.pop("securitySchemes", None)
    else:
        comps.setdefault("securitySchemes", {})[SCHEME] = {
            "type": "http", "scheme": "bearer",
            "description": "the server's API token (REELSCOPE_API_TOKEN); the web app may send it as the "
                           "reelscope_token cookie for reads"}
    app.openapi_schema = doc
    return doc


def _complete(path: str, method: str, op: dict[str, Any], settings: Settings) -> None:
    responses = op.setdefault("responses", {})
    declared = bool(op.get("security"))  # set by require_write's HTTPBearer dependency
    needs = settings.token and (declared or (settings.read_token_required and path not in OPEN))
    if needs:
        op["security"] = [{SCHEME: []}]
        responses.setdefault("401", _error(ERRORS[401]))
        responses.setdefault("403", _error(ERRORS[403]))
    else:
        op.pop("security", None)
    if method in WRITES:
        responses.setdefault("403", _error(ERRORS[403]))
    params = op.get("parameters", [])
    if any(p.get("in") == "path" for p in params):
        responses.setdefault("404", _error(ERRORS[404]))
    if "requestBody" in op:
        responses.setdefault("413", _error(ERRORS[413]))
    if params or "requestBody" in op:
        responses["422"] = {"description": "the request does not match this schema (FastAPI's validation errors)",
                            "content": {"application/json": {"schema": VALIDATION}}}
    else:
        responses.pop("422", None)


def _links(paths: dict[str, Any]) -> None:
    for (method, path), status, pointer, targets, param in LINKS:
        source = paths.get(path, {}).get(method)
        if not source or status not in source.get("responses", {}):
            continue
        links = source["responses"][status].setdefault("links", {})
        for t_method, t_path in targets:
            target = paths.get(t_path, {}).get(t_method)
            if target:
                name = target["operationId"]
                links[name] = {"operationId": name, "parameters": {param: f"$response.body#{pointer}"}}


def _upload_lists(schema: dict[str, Any]) -> None:
    """A required list of uploaded files needs at least one (an empty one is answered 422)."""
    for name in schema.get("required", []):
        prop = schema.get("properties", {}).get(name, {})
        items = prop.get("items", {})
        if prop.get("type") == "array" and (items.get("format") == "binary" or "contentMediaType" in items):
            prop.setdefault("minItems", 1)


def _validation_schemas(schemas: dict[str, Any]) -> None:
    """FastAPI's HTTPValidationError/ValidationError schemas, also where no route generated them."""
    if "HTTPValidationError" in schemas and "ValidationError" in schemas:
        return
    from fastapi.openapi.utils import validation_error_definition, validation_error_response_definition

    schemas.setdefault("ValidationError", validation_error_definition)
    schemas.setdefault("HTTPValidationError", validation_error_response_definition)
