"""Shared parts of the local fake ESP servers: spec loading, schema validation, a threaded WSGI server.

The schemas are the vendors' own (../shared/specs/, vendored in tests/activation/specs/): every request a
client sends is validated against the operation's request schema and parameters, and every response the fake sends is
validated against the documented response schema, so a drift on either side fails the tests.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import re
import threading
import time
from collections import deque
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jsonschema
import yaml
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

REPO = Path(__file__).resolve().parents[2]
# The vendors' schemas, vendored unchanged from ../shared/specs/ so CI (a clean clone) has them;
# test_activation_spec checks the copy still equals ../shared/specs/ wherever that exists.
VENDORED_SPECS = Path(__file__).resolve().parent / "specs"
SHARED_SPECS = REPO.parent / "shared" / "specs"
SPECS = Path(os.environ.get("C360_SPECS_DIR") or VENDORED_SPECS)
logging.getLogger("werkzeug").setLevel(logging.WARNING)


def openapi3_to_jsonschema(schema, components: dict, _seen: tuple = ()):
    """Inline `$ref`s and turn OpenAPI 3.0 `nullable: true` into JSON-Schema type lists / null options."""
    if isinstance(schema, list):
        return [openapi3_to_jsonschema(s, components, _seen) for s in schema]
    if not isinstance(schema, dict):
        return schema
    nullable = schema.get("nullable") is True
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        target = {} if name in _seen else openapi3_to_jsonschema(components[name], components, (*_seen, name))
        return {"anyOf": [target, {"type": "null"}]} if nullable else target
    out = {}
    for key, value in schema.items():
        if key in ("nullable", "example", "description", "x-klaviyo-pre-release") or key.startswith("x-"):
            continue
        if key == "properties":
            out[key] = {k: openapi3_to_jsonschema(v, components, _seen) for k, v in value.items()}
        elif key in ("items", "additionalProperties", "not"):
            out[key] = openapi3_to_jsonschema(value, components, _seen)
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [openapi3_to_jsonschema(v, components, _seen) for v in value]
        else:
            out[key] = copy.deepcopy(value)
    if nullable:
        if "type" in out:
            out["type"] = [out["type"], "null"] if isinstance(out["type"], str) else [*out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
        if "oneOf" in out:
            out["oneOf"] = [*out["oneOf"], {"type": "null"}]
        if "allOf" in out or "anyOf" in out:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


@dataclass
class Operation:
    """One documented operation: how to match it and what to validate."""

    operation_id: str
    method: str
    template: str
    pattern: re.Pattern
    body_schema: dict | None
    params: dict[str, dict]  # name -> {"in", "required", "schema"}
    responses: dict[str, dict | None]  # status code -> schema (None: no body)
    rate_limit: dict | None = None

    def match(self, method: str, path: str) -> dict | None:
        """Path parameters when this operation serves (method, path)."""
        if method != self.method:
            return None
        m = self.pattern.fullmatch(path)
        return m.groupdict() if m else None


def _pattern(template: str) -> re.Pattern:
    return re.compile(re.sub(r"\{([^}]+)\}", lambda m: f"(?P<{re.sub(r'[^a-zA-Z0-9_]', '_', m.group(1))}>[^/]+)",
                             template))


@lru_cache(maxsize=1)
def klaviyo_operations() -> dict[str, Operation]:
    """Every Klaviyo operation in specs/klaviyo/, keyed by operationId."""
    ops = {}
    for path in sorted((SPECS / "klaviyo").glob("*.json")):
        doc = json.loads(path.read_text())
        components = doc.get("components", {}).get("schemas", {})
        for template, methods in doc["paths"].items():
            for method, op in methods.items():
                body = None
                if "requestBody" in op:
                    body = openapi3_to_jsonschema(
                        op["requestBody"]["content"]["application/vnd.api+json"]["schema"], components
                    )
                params = {
                    p["name"]: {"in": p["in"], "required": p.get("required", False),
                                "schema": openapi3_to_jsonschema(p.get("schema", {}), components)}
                    for p in op.get("parameters", [])
                }
                responses = {}
                for code, resp in op["responses"].items():
                    if "$ref" in resp:
                        resp = doc["components"]["responses"][resp["$ref"].rsplit("/", 1)[-1]]
                    content = (resp.get("content") or {}).get("application/vnd.api+json")
                    responses[code] = openapi3_to_jsonschema(content["schema"], components) if content else None
                ops[op["operationId"]] = Operation(
                    op["operationId"], method.upper(), template, _pattern(template), body, params, responses,
                    op.get("x-klaviyo-ratelimit"),
                )
    ops["get_profile_ids_for_list"] = _get_profile_ids_for_list(ops["get_lists"])
    return ops


def _get_profile_ids_for_list(get_lists: Operation) -> Operation:
    """`GET /api/lists/{id}/relationships/profiles`, which ../shared/specs/klaviyo/ does not hold.

    Transcribed from Klaviyo's OpenAPI file of the operation (klaviyo/openapi, openapi/stable/apis/
    get_profile_ids_for_list.json, revision 2026-04-15, the newest there): its parameters, its 200
    schema and its rate limit; the error schemas are the other operations' (identical in every file).
    """
    template = "/api/lists/{id}/relationships/profiles"
    params = {
        "filter": {"in": "query", "required": False, "schema": {"type": "string"}},
        "page[cursor]": {"in": "query", "required": False, "schema": {"type": "string"}},
        "page[size]": {"in": "query", "required": False, "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
        "sort": {"in": "query", "required": False, "schema": {"type": "string",
                                                              "enum": ["joined_group_at", "-joined_group_at"]}},
        "revision": {"in": "header", "required": True, "schema": {"type": "string"}},
    }
    link = {"type": "string", "format": "uri"}
    ok = {"type": "object", "required": ["data"], "properties": {
        "data": {"type": "array", "items": {"type": "object", "required": ["type", "id"], "properties": {
            "type": {"type": "string", "enum": ["profile"]}, "id": {"type": "string"}}}},
        "links": {"type": "object", "required": ["self"],
                  "properties": {"self": link, "prev": link, "next": link}},
    }}
    responses = {"200": ok, "4XX": get_lists.responses["4XX"], "5XX": get_lists.responses["5XX"]}
    return Operation("get_profile_ids_for_list", "GET", template, _pattern(template), None, params, responses,
                     {"burst": "75/s", "steady": "750/m"})


def _yaml_load(path: Path):
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path) as fh:
        return yaml.load(fh, Loader=loader)


@lru_cache(maxsize=1)
def mailchimp_operations() -> dict[str, Operation]:
    """Every Mailchimp operation in the three Swagger 2.0 slices, keyed by operationId."""
    ops = {}
    for name in ("lists-api.yml", "list-id-api.yml", "members-api.yml"):
        doc = _yaml_load(SPECS / "mailchimp" / name)
        base = doc.get("basePath", "")
        for template, methods in doc["paths"].items():
            for method, op in methods.items():
                if method not in ("get", "post", "put", "patch", "delete") or op["operationId"] in ops:
                    continue
                body = None
                params = {}
                for p in op.get("parameters", []):
                    if p["in"] == "body":
                        body = p["schema"]
                    else:
                        schema = {k: p[k] for k in ("type", "enum", "items", "minimum", "maximum") if k in p}
                        params[p["name"]] = {"in": p["in"], "required": p.get("required", False), "schema": schema}
                responses = {code: r.get("schema") for code, r in op["responses"].items()}
                ops[op["operationId"]] = Operation(op["operationId"], method.upper(), base + template,
                                                   _pattern(base + template), body, params, responses)
    return ops


def _coerce(value: str, schema: dict):
    kind = schema.get("type")
    if kind == "integer":
        return int(value)
    if kind == "number":
        return float(value)
    if kind == "boolean":
        if value not in ("true", "false"):
            raise ValueError(value)
        return value == "true"
    if kind == "array":
        return [_coerce(v, schema.get("items", {})) for v in value.split(",")]
    return value


class SpecViolation(Exception):
    """A request (or a fake's response) does not match the documented schema."""


_VALIDATORS: dict[tuple[str, int], jsonschema.protocols.Validator] = {}


def _validator(key: str, schema: dict):
    """A compiled validator per schema (checking the schema itself once)."""
    cache_key = (key, id(schema))
    if cache_key not in _VALIDATORS:
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
        cls.check_schema(schema)
        _VALIDATORS[cache_key] = cls(schema)
    return _VALIDATORS[cache_key]


def validate_request(op: Operation, request: Request, body) -> None:
    """Check query/header parameters (required, unknown, typed) and the JSON body against the spec."""
    for name, p in op.params.items():
        if p["in"] == "header" and p["required"] and name not in request.headers:
            raise SpecViolation(f"{op.operation_id}: missing header {name}")
    for name in request.args:
        p = op.params.get(name)
        if p is None or p["in"] != "query":
            raise SpecViolation(f"{op.operation_id}: unknown query parameter {name}")
        try:
            jsonschema.validate(_coerce(request.args[name], p["schema"]), p["schema"])
        except (ValueError, jsonschema.ValidationError) as exc:
            raise SpecViolation(f"{op.operation_id}: bad query parameter {name}: {exc}") from exc
    if op.body_schema is not None:
        if body is None:
            raise SpecViolation(f"{op.operation_id}: a JSON body is required")
        try:
            _validator(op.operation_id, op.body_schema).validate(body)
        except jsonschema.ValidationError as exc:
            raise SpecViolation(f"{op.operation_id}: body: {exc.message} at {list(exc.absolute_path)}") from exc
    elif body is not None:
        raise SpecViolation(f"{op.operation_id}: no body expected")


def validate_response(op: Operation, status: int, body) -> None:
    """Check the fake's own response against the documented schema for its status."""
    family = f"{str(status)[0]}XX"
    for key in (str(status), family, "default"):
        if key in op.responses:
            schema = op.responses[key]
            break
    else:
        raise SpecViolation(f"{op.operation_id}: status {status} is not documented")
    if schema is None:
        if body is not None:
            raise SpecViolation(f"{op.operation_id}: status {status} has no body in the spec")
        return
    try:
        _validator(f"{op.operation_id}:{status}", schema).validate(body)
    except jsonschema.ValidationError as exc:
        raise SpecViolation(f"{op.operation_id}: response {status}: {exc.message}") from exc


class SlidingWindow:
    """Server-side limit: at most `count` accepted requests in any window of `seconds`."""

    def __init__(self, count: int, seconds: float):
        self.count, self.seconds = count, seconds
        self.log: deque[float] = deque()

    def wait_needed(self, now: float) -> float:
        """0 when a request may pass now, else how long until it could."""
        while self.log and self.log[0] <= now - self.seconds:
            self.log.popleft()
        if len(self.log) < self.count:
            return 0.0
        return self.log[len(self.log) - self.count] + self.seconds - now


def parse_limit(text: str) -> tuple[int, float]:
    """'10/s' -> (10, 1.0), '150/m' -> (150, 60.0), '150/d' -> (150, 86400.0)."""
    count, unit = text.split("/")
    return int(count), {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}[unit]


@dataclass
class Injection:
    """What to do instead of serving the next matching requests."""

    action: str  # "status" | "timeout"
    status: int = 500
    seconds: float = 0.0
    retry_after: str | None = None
    detail: str = "injected failure"  # the error body's detail (real APIs echo what they were sent)
    applied: bool = False  # serve the request first (the change is made), then fail: the client cannot know


class _Handler(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real APIs

    def log_request(self, *args, **kwargs) -> None:
        """Silence the per-request access log."""
        pass


class FakeServer:
    """A threaded local HTTP server dispatching to documented operations, with failure injection."""

    operations: dict[str, Operation] = {}

    def __init__(self):
        self.lock = threading.RLock()
        self.injections: dict[str, deque[Injection]] = {}
        self.calls: list[tuple[str, int]] = []  # (operationId, status) of every request
        self.ops: list[tuple] = []  # state-changing operations applied, e.g. ("list_add", email)
        self.violations: list[str] = []
        self.latency = 0.0  # seconds each request takes (outside the state lock), to make concurrency visible
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True, request_handler=_Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    def inject(self, operation_id: str, *injections: Injection) -> None:
        """Serve the next requests of an operation with these failures, in order."""
        with self.lock:
            self.injections.setdefault(operation_id, deque()).extend(injections)

    def count(self, operation_id: str | None = None, status: int | None = None) -> int:
        """Requests received (optionally of one operation / with one status)."""
        with self.lock:
            return sum(1 for op, st in self.calls
                       if (operation_id is None or op == operation_id) and (status is None or st == status))

    # hooks for subclasses
    def authorize(self, request: Request) -> Response | None:  # pragma: no cover - overridden
        """None when the credentials are right, else the error response."""
        return None

    def error(self, status: int, title: str, detail: str, op: Operation | None = None) -> Response:
        """The vendor's error body for a status."""
        raise NotImplementedError

    def before(self, op: Operation, request: Request) -> Response | None:
        """A response that short-circuits the request (e.g. 429), or None."""
        return None

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        response = self.handle(request)
        return response(environ, start_response)

    def handle(self, request: Request) -> Response:
        """Match, validate, inject, dispatch."""
        op = params = None
        for candidate in self.operations.values():
            params = candidate.match(request.method, request.path)
            if params is not None:
                op = candidate
                break
        if op is None:
            self.violations.append(f"undocumented {request.method} {request.path}")
            return self.error(404, "Not Found", f"{request.method} {request.path} is not a documented operation")
        denied = self.authorize(request)
        if denied is not None:
            self._record(op, denied.status_code)
            return denied
        raw = request.get_data()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            self._record(op, 400)
            return self.error(400, "Invalid JSON", "the body is not JSON", op)
        try:
            validate_request(op, request, body)
        except SpecViolation as exc:
            self.violations.append(str(exc))
            self._record(op, 400)
            return self.error(400, "Invalid Resource", str(exc)[:500], op)
        gate = self.before(op, request)
        if gate is not None:
            self._record(op, gate.status_code)
            return gate
        with self.lock:
            queue = self.injections.get(op.operation_id)
            injection = queue.popleft() if queue else None
        if injection is not None and injection.applied:
            handler = getattr(self, "op_" + op.operation_id)
            with self.lock:
                handler(request, body, **params)
        if injection is not None:
            if injection.action == "timeout":
                time.sleep(injection.seconds)
                self._record(op, 504)
                return self.error(504, "Gateway Timeout", "injected timeout", op)
            self._record(op, injection.status)
            resp = self.error(injection.status, "Injected", injection.detail, op)
            if injection.retry_after is not None:
                resp.headers["Retry-After"] = injection.retry_after
            return resp
        if self.latency:
            time.sleep(self.latency)
        handler = getattr(self, "op_" + op.operation_id, None)
        if handler is None:
            self._record(op, 501)
            return self.error(501, "Not Implemented", op.operation_id, op)
        with self.lock:
            status, payload = handler(request, body, **params)
        if isinstance(payload, Response):
            self._record(op, status)
            return payload
        try:
            validate_response(op, status, payload)
        except SpecViolation as exc:
            self.violations.append(str(exc))
        self._record(op, status)
        return self.respond(status, payload)

    def respond(self, status: int, payload) -> Response:
        """A JSON response (or an empty one)."""
        if payload is None:
            return Response(status=status)
        return Response(json.dumps(payload), status=status, content_type="application/json")

    def _record(self, op: Operation, status: int) -> None:
        with self.lock:
            self.calls.append((op.operation_id, status))


def retry_after_seconds(wait_scaled: float, time_scale: float) -> str:
    """Retry-After in whole unscaled seconds (as a real server sends); the client divides by the scale."""
    return str(max(1, math.ceil(wait_scaled * time_scale)))
