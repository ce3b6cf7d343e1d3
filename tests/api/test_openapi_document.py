"""/openapi.json as generated clients need it (issue 18 point 6): named enum components, named
bodies, optional security on public reads beside an OAuth2 password scheme, and response
fields that are always sent marked required. (The generator itself runs, warning-free, in
test_generated_client.py.)"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from api.openapi import ENUM_NAMES, operation_id, with_named_enums
from tests.helpers import ApiClient

METHODS = {"get", "put", "post", "delete", "patch"}


@pytest.fixture
async def spec(client: ApiClient) -> dict[str, Any]:
    r = await client.get("/openapi.json")
    assert r.status_code == 200
    return r.json()  # type: ignore[no-any-return]


def _inline_enums(node: Any, where: str = "") -> list[str]:
    if isinstance(node, dict):
        found = [where] if "enum" in node else []
        for key, value in node.items():
            found += _inline_enums(value, f"{where}/{key}")
        return found
    if isinstance(node, list):
        return [w for i, v in enumerate(node) for w in _inline_enums(v, f"{where}/{i}")]
    return []


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


async def test_every_value_set_is_one_named_enum_component(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    enums = {name: s for name, s in schemas.items() if "enum" in s}
    # no inline enum anywhere but in the enum components themselves
    inline = [
        w for w in _inline_enums(spec) if w.count("/") != 3 or w.rsplit("/", 1)[1] not in enums
    ]
    assert inline == []
    # one component per value set
    sets = Counter(frozenset(s["enum"]) for s in enums.values())
    assert [values for values, n in sets.items() if n > 1] == []
    for name in ("CoordinateSystem", "FollowUpMethod", "ComplaintCategory", "RefundPolicy",
                 "OrderStatus", "StaffRole"):  # fmt: skip
        assert name in enums, name
    assert set(enums["CoordinateSystem"]["enum"]) == {"wgs84", "gcj02", "bd09"}
    # the named ones are used where their values are: `crs` on nearby, a complaint's category
    nearby = spec["paths"]["/v1/shops/nearby"]["get"]["parameters"]
    crs = next(p for p in nearby if p["name"] == "crs")
    assert crs["schema"]["$ref"] == "#/components/schemas/CoordinateSystem"
    assert crs["schema"]["default"] == "wgs84"
    category = schemas["ComplaintCreate"]["properties"]["category"]
    assert category["$ref"] == "#/components/schemas/ComplaintCategory"


def test_a_new_value_set_is_named_after_its_first_use() -> None:
    spec: dict[str, Any] = {
        "components": {"schemas": {
            "Booking": {"properties": {"status": {"type": "string", "enum": ["a", "b"]}}},
            "BookingUpdate": {"properties": {"status": {"anyOf": [
                {"type": "string", "enum": ["b", "a"]}, {"type": "null"}]}}},
            "Shop": {"properties": {"crs": {"type": "string", "enum": ["wgs84", "gcj02", "bd09"],
                                            "default": "wgs84"}}},
        }},
        "paths": {},
    }  # fmt: skip
    schemas = with_named_enums(spec)["components"]["schemas"]
    assert schemas["BookingStatus"]["enum"] == ["a", "b"]
    update = schemas["BookingUpdate"]["properties"]["status"]["anyOf"][0]
    assert update == {"$ref": "#/components/schemas/BookingStatus"}
    crs = schemas["Shop"]["properties"]["crs"]
    assert crs == {"$ref": "#/components/schemas/CoordinateSystem", "default": "wgs84"}
    assert len(ENUM_NAMES) == len(set(ENUM_NAMES.values()))


async def test_bodies_are_named_models(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    assert not [name for name in schemas if name.startswith("Body")]
    upload = spec["paths"]["/v1/shops/{shop_id}/photos"]["post"]["requestBody"]["content"]
    form = upload["multipart/form-data"]["schema"]
    assert form == {"$ref": "#/components/schemas/PhotoUpload"}
    assert schemas["PhotoUpload"]["properties"]["file"]["format"] == "binary"
    token = spec["paths"]["/v1/auth/token"]["post"]["requestBody"]["content"]
    assert token["application/x-www-form-urlencoded"]["schema"]["$ref"].endswith("/TokenRequest")
    # every request and response body of the API is a named component (or a list of one,
    # or one or nothing), raw uploads and binary answers aside
    for method, path, operation in _operations(spec):
        if not path.startswith("/v1/"):
            continue  # /healthz, /readyz, /metrics: for operators, not clients
        bodies = [operation.get("requestBody", {})] + [
            r for status, r in operation["responses"].items() if status.startswith("2")
        ]
        for body in bodies:
            for media, content in body.get("content", {}).items():
                schema = content.get("schema", {})
                options = schema.get("anyOf", [schema.get("items", schema)])
                named = all("$ref" in o or o.get("type") == "null" for o in options)
                raw = schema.get("type") == "string"  # text/csv uploads, PNG/PDF answers
                assert named or raw, (method, path, media, schema)


async def test_security_schemes_and_optional_security_on_public_reads(
    spec: dict[str, Any],
) -> None:
    schemes = spec["components"]["securitySchemes"]
    assert schemes["HTTPBearer"]["scheme"] == "bearer"
    password = schemes["OAuth2Password"]["flows"]["password"]
    assert password["tokenUrl"] == "/v1/auth/token"
    either: list[dict[str, list[str]]] = [{"HTTPBearer": []}, {"OAuth2Password": []}]
    paths = spec["paths"]
    # public reads that also read a token when one is sent: optional
    for path in ("/v1/campaigns/{campaign_id}", "/v1/shops/{shop_id}/page"):
        assert paths[path]["get"]["security"] == [{}, *either], path
    # signed-in routes: either scheme, required
    assert paths["/v1/me"]["get"]["security"] == either
    assert paths["/v1/me/orders/{order_id}/refund"]["post"]["security"] == either
    # public routes that never read a token declare none
    assert "security" not in paths["/v1/shops/nearby"]["get"]
    for _, _, operation in _operations(spec):
        for requirement in operation.get("security", []):
            assert set(requirement) <= {"HTTPBearer", "OAuth2Password"}


async def test_response_fields_always_sent_are_required(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    page = next(name for name in schemas if name.startswith("Page_Order"))
    assert set(schemas[page]["required"]) == {"items", "next_cursor"}
    order = schemas["Order"]
    assert set(order["required"]) == set(order["properties"])
    assert {"payment", "usable_until", "coupon"} <= set(order["required"])
    # request models keep their optional fields optional
    assert "coupon_code" not in schemas["OrderCreate"].get("required", [])
    assert "refund_policy" not in schemas["OfferingCreate"].get("required", [])


async def test_operation_ids_are_unique_and_readable(spec: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, operation in _operations(spec)]
    assert len(ids) == len(set(ids))
    assert operation_id("post", "/v1/me/orders/{order_id}/refund", "refund_my_order") == (
        "me_refund_order"
    )
    assert "me_refund_order" in ids
