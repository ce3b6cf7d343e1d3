"""The OpenAPI document as clients need it (SPEC §11: generated clients read well).

- Errors: FastAPI documents only its own 422 shape (`HTTPValidationError`,
  `application/json`), which is not what Corner sends. Each operation gets `422`, `4XX` and
  `5XX` responses with the `Problem` schema, so clients (and the contract fuzzer) rely on them.
- Enums: every set of allowed values is one named component (`CoordinateSystem`,
  `FollowUpMethod`, …) referenced wherever it is used, instead of an inline enum per field
  (a generator makes one class per inline enum: 56 classes for 28 value sets). Names come
  from `ENUM_NAMES`; a value set not listed there is named after its first use
  (`<Schema><Field>`), so a new Literal never leaves an inline enum behind.
- Bodies: FastAPI's anonymous `Body_<operation>` models get readable names (`BODY_NAMES`).
- Security: beside the bearer scheme, an OAuth2 password scheme with its `tokenUrl`;
  operations that take a token but do not need one (`OptionalUser`: the shop page, a
  campaign) declare it optional (`security: [{}, …]`).
- Responses: every field of a schema used only in responses is always sent, so all are
  `required` (`next_cursor` is present, null on the last page).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, routing
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from accounts.permissions import current_principal, optional_principal

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; `code` is stable, `title`/`detail` are localised.",
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "pattern": "^[a-z0-9_]+$"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["loc", "msg"],
                "properties": {
                    "loc": {"type": "array", "items": {"type": ["string", "integer"]}},
                    "msg": {"type": "string"},
                },
            },
        },
    },
    "additionalProperties": True,
}

_PROBLEM_CONTENT = {
    "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
}
_HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def _problem_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": _PROBLEM_CONTENT}


def with_problem_responses(spec: dict[str, Any]) -> dict[str, Any]:
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for item in spec.get("paths", {}).values():
        for method, operation in item.items():
            if method not in _HTTP_METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for status, response in list(responses.items()):
                if status.startswith(("4", "5")):
                    response["content"] = _PROBLEM_CONTENT
            responses.setdefault("422", _problem_response("Validation error"))
            responses.setdefault("4XX", _problem_response("Client error"))
            responses.setdefault("5XX", _problem_response("Service unavailable or server error"))
    return spec


_BINARY_TYPES = ("image/png", "image/jpeg", "image/webp", "application/pdf", "text/csv")
_VERBS = {"get": "get", "post": "create", "put": "put", "patch": "update", "delete": "delete"}


def operation_id(method: str, path: str, name: str) -> str:
    """`shops_nearby`, `counter_redeem`, `me_coupons`: the path's first resource, then the
    handler's name without the words that repeat it (for a route with no other words, the
    verb of its method). Readable in generated clients, and unique (checked when built)."""
    segments = [s for s in path.split("/") if s and s != "v1"]
    resource = segments[0].replace("-", "_").replace(".", "_") if segments else "root"
    repeats = {resource, resource.rstrip("s"), *(["my"] if resource == "me" else [])}
    words = [w for w in name.split("_") if w not in repeats]
    return f"{resource}_{'_'.join(words) or _VERBS.get(method, method)}"


def route_operation_id(route: APIRoute) -> str:
    """The app's `generate_unique_id_function` (a route may still set its own id)."""
    method = sorted(route.methods or {"get"})[0].lower()
    return operation_id(method, route.path_format, route.name)


def check_unique_operation_ids(spec: dict[str, Any]) -> dict[str, Any]:
    seen: dict[str, str] = {}
    for path, item in spec.get("paths", {}).items():
        for method, operation in item.items():
            if method not in _HTTP_METHODS:
                continue
            key = operation.get("operationId", "")
            if key in seen:
                raise RuntimeError(f"operation id {key} of {method} {path} repeats {seen[key]}")
            seen[key] = f"{method} {path}"
    return spec


def with_binary_bodies(spec: dict[str, Any]) -> dict[str, Any]:
    """Images, PDFs and CSVs declare `{type: string, format: binary}` (FastAPI leaves them
    without a schema, and generators then drop the success response); so do the files of
    multipart uploads."""
    for item in spec.get("paths", {}).values():
        for method, operation in item.items():
            if method not in _HTTP_METHODS:
                continue
            for status, response in operation.get("responses", {}).items():
                if not status.startswith("2"):
                    continue
                for media, body in response.get("content", {}).items():
                    if media in _BINARY_TYPES:
                        body["schema"] = {"type": "string", "format": "binary"}
            # uploaded files too (FastAPI writes OpenAPI 3.1's `contentMediaType` alone, and a
            # generated client then sends the file as text)
            form = operation.get("requestBody", {}).get("content", {}).get("multipart/form-data")
            schema = (form or {}).get("schema", {})
            ref = schema.get("$ref", "")
            if ref.startswith("#/components/schemas/"):
                schema = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
            for prop in schema.get("properties", {}).values():
                if prop.get("type") == "string" and "contentMediaType" in prop:
                    prop["format"] = "binary"
    return spec


# one name per set of allowed values (matched whatever the order of the values)
ENUM_NAMES: dict[frozenset[str], str] = {
    frozenset(values): name
    for name, values in {
        "CoordinateSystem": ("wgs84", "gcj02", "bd09"),
        "FollowUpMethod": ("phone", "sms", "wechat", "visit", "email"),
        "StaffRole": ("owner", "manager", "clerk"),
        "RefundPolicy": ("anytime", "before_expiry", "none"),
        "ComplaintCategory": ("service", "quality", "price", "hygiene", "waiting",
                              "staff_attitude", "billing", "other"),
        "CampaignStatus": ("draft", "published", "paused", "ended"),
        "ComplaintStatus": ("open", "responded", "resolved", "closed"),
        "InterestLevel": ("high", "medium", "low"),
        "CustomerSort": ("last_visit", "total_spend", "visits"),
        "PhotoKind": ("storefront", "interior", "product"),
        "ComplaintChannel": ("in_person", "phone", "app", "wechat", "email", "other"),
        "DevicePlatform": ("android", "ios", "web"),
        "PushProvider": ("fcm", "jpush"),
        "PushChannel": ("push", "sms"),
        "NearbySort": ("distance", "rating"),
        "CouponListStatus": ("active", "redeemed", "expired"),
        "DiscountKind": ("amount_off", "percent_off", "gift"),
        "FlashOfferAudienceKind": ("nearby", "customers", "segment", "tiers"),
        "CampaignAudienceKind": ("public", "tiers", "segment", "customers"),
        "CountPassStatus": ("pending", "active", "failed", "expired", "used_up"),
        "CounterTransactionKind": ("purchase", "spend_points", "spend_balance", "count_use"),
        "CouponStatus": ("active", "reserved", "redeemed", "expired"),
        "CouponSource": ("claim", "issue", "paper"),
        "FlashOfferStatus": ("scheduled", "sending", "completed", "expired"),
        "FollowUpTrigger": ("first_purchase", "interest_level"),
        "OrderStatus": ("pending_payment", "paid", "consumed", "refunded", "expired",
                        "cancelled"),
        "PaymentProviderName": ("fake", "wechatpay", "alipay"),
        "PaymentMethod": ("native", "jsapi", "app", "precreate", "page"),
        "BonusSpendRule": ("principal_first", "bonus_first", "proportional"),
        "ReceivedOfferStatus": ("unread", "read", "expired"),
        "RfmSegment": ("champions", "loyal", "potential_loyalists", "new_customers",
                       "promising", "need_attention", "about_to_sleep", "at_risk",
                       "cant_lose", "hibernating"),
        "SmsCodePurpose": ("login", "reset", "delete"),
        "StaffInvitationStatus": ("pending", "accepted", "declined", "revoked"),
        "StatementStatus": ("open", "closed"),
        "GrantType": ("password", "sms_code"),
    }.items()
}  # fmt: skip
BODY_NAMES = {"Body_shops_upload_photo": "PhotoUpload"}
BEARER = "HTTPBearer"
OAUTH2 = "OAuth2Password"
OAUTH2_SCHEME: dict[str, Any] = {
    "type": "oauth2",
    "description": "The OAuth2 password flow of POST /v1/auth/token (username = phone or"
    " email); the access token it answers is the bearer token",
    "flows": {"password": {"tokenUrl": "/v1/auth/token", "refreshUrl": "/v1/auth/refresh",
                           "scopes": {}}},
}  # fmt: skip


def _camel(*words: str) -> str:
    return "".join(part[:1].upper() + part[1:] for w in words for part in w.split("_") if part)


def _enum_nodes(node: Any, owner: str, field: str) -> list[tuple[dict[str, Any], str]]:
    """Inline enums under `node` (a field's schema, or one of its anyOf/items), with the name
    of their first use."""
    if not isinstance(node, dict) or "$ref" in node:
        return []
    if "enum" in node:
        return [(node, _camel(owner, field))]
    found: list[tuple[dict[str, Any], str]] = []
    for key in ("anyOf", "oneOf", "allOf"):
        for option in node.get(key, []):
            found += _enum_nodes(option, owner, field)
    if "items" in node:
        found += _enum_nodes(node["items"], owner, field)
    if isinstance(node.get("additionalProperties"), dict):
        found += _enum_nodes(node["additionalProperties"], owner, field)
    for name, prop in node.get("properties", {}).items():
        found += _enum_nodes(prop, owner, name)
    return found


def with_named_enums(spec: dict[str, Any]) -> dict[str, Any]:
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    uses: list[tuple[dict[str, Any], str]] = []
    for name in sorted(schemas):
        if "enum" not in schemas[name]:
            for field, prop in schemas[name].get("properties", {}).items():
                uses += _enum_nodes(prop, name, field)
    for path in sorted(spec.get("paths", {})):
        for method, operation in sorted(spec["paths"][path].items()):
            if method in _HTTP_METHODS:
                for parameter in operation.get("parameters", []):
                    uses += _enum_nodes(parameter.get("schema"), "", parameter["name"])
    named: dict[frozenset[str], str] = {}
    for node, first_use in uses:
        values = frozenset(node["enum"])
        name = named.get(values)
        if name is None:
            name = ENUM_NAMES.get(values, first_use)
            while name in schemas and frozenset(schemas[name].get("enum", ())) != values:
                name += "Value"  # a model of that name exists already
            schemas[name] = {"type": node.get("type", "string"), "enum": node["enum"],
                             "title": name}  # fmt: skip
            named[values] = name
        kept: dict[str, Any] = {k: node[k] for k in ("description", "default") if k in node}
        node.clear()
        node.update({"$ref": f"#/components/schemas/{name}", **kept})
    return spec


def _rename_refs(node: Any, renames: dict[str, str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            target = ref.rsplit("/", 1)[1]
            if target in renames:
                node["$ref"] = f"#/components/schemas/{renames[target]}"
        for value in node.values():
            _rename_refs(value, renames)
    elif isinstance(node, list):
        for value in node:
            _rename_refs(value, renames)


def with_named_bodies(spec: dict[str, Any]) -> dict[str, Any]:
    """`Body_shops_upload_photo` → `PhotoUpload` (others: `<Operation>Body`); hand-declared
    file forms → `FileUpload`."""
    schemas = spec.get("components", {}).get("schemas", {})
    renames = {
        old: BODY_NAMES.get(old, _camel(old.removeprefix("Body_"), "body"))
        for old in schemas
        if old.startswith("Body_")
    }
    for old, new in renames.items():
        schemas[new] = {**schemas.pop(old), "title": new}
    _rename_refs(spec, renames)
    # uploads declared by hand (`openapi_extra`): one `FileUpload` for the plain file forms
    for item in spec.get("paths", {}).values():
        for method, operation in item.items():
            content = operation.get("requestBody", {}).get("content", {}) if method in (
                _HTTP_METHODS) else {}  # fmt: skip
            form = content.get("multipart/form-data", {})
            schema = form.get("schema", {})
            if schema.get("type") == "object" and "$ref" not in schema:
                name = (
                    "FileUpload"
                    if set(schema.get("properties", {})) == {"file"}
                    else _camel(operation["operationId"], "upload")
                )
                schemas.setdefault(name, {**schema, "title": name})
                form["schema"] = {"$ref": f"#/components/schemas/{name}"}
    return spec


def _calls(dependant: Dependant) -> set[Any]:
    found = {dependant.call}
    for sub in dependant.dependencies:
        found |= _calls(sub)
    return found


def optional_auth_operations(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of the routes that read a token when there is one and need none."""
    optional = set()
    # included routers are contexts of their routes (prefix, dependencies) in this FastAPI
    for context in routing.iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            route: Any = context  # an APIRoute-like view: the effective path and dependant
            calls = _calls(route.dependant)
            if optional_principal in calls and current_principal not in calls:
                optional |= {(m.lower(), route.path_format) for m in route.methods or ()}
    return optional


def with_security(spec: dict[str, Any], optional: set[tuple[str, str]]) -> dict[str, Any]:
    """The OAuth2 password scheme beside the bearer one; optional where a token is."""
    schemes = spec.setdefault("components", {}).setdefault("securitySchemes", {})
    if BEARER not in schemes:
        return spec
    schemes[OAUTH2] = OAUTH2_SCHEME
    for path, item in spec.get("paths", {}).items():
        for method, operation in item.items():
            if method not in _HTTP_METHODS or {BEARER: []} not in operation.get("security", []):
                continue
            either: list[dict[str, list[str]]] = [{BEARER: []}, {OAUTH2: []}]
            operation["security"] = ([{}] if (method, path) in optional else []) + either
    return spec


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        found = {ref.rsplit("/", 1)[1]} if isinstance(ref, str) else set()
        for value in node.values():
            found |= _refs(value)
        return found
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node)) if node else set()
    return set()


def _closure(names: set[str], schemas: dict[str, Any]) -> set[str]:
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen or name not in schemas:
            continue
        seen.add(name)
        todo += _refs(schemas[name])
    return seen


def with_required_responses(spec: dict[str, Any]) -> dict[str, Any]:
    """Models used only in responses list every field as required: Corner sends them all
    (no response is serialised with exclude_none/unset), null where there is nothing."""
    schemas = spec.get("components", {}).get("schemas", {})
    sent, received = set(), set()
    for item in spec.get("paths", {}).values():
        for method, operation in item.items():
            if method not in _HTTP_METHODS:
                continue
            sent |= _refs(operation.get("responses", {}))
            received |= _refs(operation.get("requestBody", {}))
            received |= _refs(operation.get("parameters", []))
    response_only = _closure(sent, schemas) - _closure(received, schemas)
    for name in response_only:
        schema = schemas[name]
        if name != "Problem" and schema.get("properties"):
            schema["required"] = list(schema["properties"])
    return spec


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                description=app.description,
                routes=app.routes,
                servers=app.servers,
            )
            spec = check_unique_operation_ids(spec)
            spec = with_binary_bodies(with_problem_responses(spec))
            spec = with_named_bodies(with_named_enums(spec))
            spec = with_security(spec, optional_auth_operations(app))
            app.openapi_schema = with_required_responses(spec)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
