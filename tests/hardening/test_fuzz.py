"""Contract fuzzing with schemathesis over /openapi.json, against a real uvicorn server.

Every operation gets a few generated requests (valid and invalid data), each sent as one of:
the owner, a clerk, a consumer of merchant A's world, a signed-in stranger, or nobody. Path
parameters are either A's real ids (so requests reach the rules behind the 404s) or generated.
Asserted: no 5xx; every 4xx is problem+json with a `code`; documented responses match their
schema and content type. Failures are collected over all operations and reported together.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from core.settings import Settings
from tests.hardening.helpers import World, build_world
from tests.helpers import ApiClient, assert_problem
from tests.live import live_server

EXAMPLES = int(os.environ.get("CORNER_FUZZ_EXAMPLES", "5"))
ONLY = os.environ.get("CORNER_FUZZ_ONLY", "")  # a substring of the paths to fuzz (debugging)
# Operations whose effects would end the run early for everyone else (signing A's owner out).
SKIP = {("POST", "/v1/auth/logout")}


@schemathesis.check
def problem_json_with_code(ctx: Any, response: Any, case: Any) -> bool | None:
    if 400 <= response.status_code < 600:
        content_type = response.headers.get("content-type", [""])[0]
        assert content_type.startswith("application/problem+json"), (
            f"{response.status_code} answered with {content_type!r}"
        )
        body = response.json()
        assert isinstance(body, dict) and isinstance(body.get("code"), str) and body["code"], body
        assert body.get("status") == response.status_code, body
    return None


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    problem_json_with_code,
]


@pytest.fixture(scope="module")
def server(test_settings: Settings) -> Iterator[str]:
    log_path = test_settings.state_dir / "fuzz-server.log"
    with open(log_path, "wb") as log, live_server(test_settings, log=log) as base:
        yield base


@pytest.fixture
async def world(client: ApiClient) -> World:
    return await build_world(client, tag="A")


@pytest.fixture
async def stranger(client: ApiClient) -> str:
    return (await client.register(name="陌生人")).token


def test_contract_fuzz_all_operations(server: str, world: World, stranger: str) -> None:
    # the first /openapi.json builds the schema: seconds on a loaded machine (10 s is the default)
    schema = schemathesis.openapi.from_url(f"{server}/openapi.json", timeout=120)
    tokens: dict[str, str | None] = {
        "owner": world.owner.token,
        "clerk": world.clerk.token,
        "consumer": world.consumer.token,
        "stranger": stranger,
        "anonymous": None,
    }
    http = requests.Session()
    failures: list[str] = []
    operations = 0
    statuses: dict[int, int] = {}
    started = time.monotonic()

    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]
        if (operation.method.upper(), operation.path) in SKIP or ONLY not in operation.path:
            continue
        operations += 1
        names = [p.name for p in operation.path_parameters]
        real = {name: world.ids[name] for name in names if name in world.ids}
        cases = st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE, path_parameters=real or None),
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE, path_parameters=real or None),
        )

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=cases, role=st.sampled_from(sorted(tokens)))
        def run(case: Any, role: str) -> None:
            token = tokens[role]
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            response = case.call_and_validate(
                base_url=server, session=http, headers=headers, checks=CHECKS
            )
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        try:
            run()
        except BaseException as exc:  # schemathesis raises BaseExceptionGroups: collect all
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            failures.append(f"{operation.method.upper()} {operation.path} :: {str(exc)[:1500]}")

    elapsed = time.monotonic() - started
    print(f"fuzz: {operations} operations, statuses {sorted(statuses.items())}, {elapsed:.0f}s")  # noqa: T201
    assert operations > 80 or ONLY
    assert not failures, f"{len(failures)} failing operations:\n\n" + "\n\n".join(failures)
    if EXAMPLES <= 5:  # the CI budget (bigger local runs may take longer)
        assert elapsed < 110, f"the fuzz run took {elapsed:.0f}s"


# -- boundary values of query parameters -----------------------------------------------------
#
# Generated fuzzing rarely hits the edges of a parameter's domain (year 0 in a `YYYY-MM`, the
# last day of the calendar, an integer one past its maximum); these are sent to every query
# parameter of every GET, derived from the OpenAPI document, so a parameter added later is
# covered without touching this test.

DATE_EDGES = ["0000-01-01", "0001-01-01", "9999-12-31", "2026-13-01", "2026-02-30", "2026-1-1"]
DATETIME_EDGES = [
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-12:00",
    "2026-13-01T00:00:00Z",
    "2026-06-01T25:00:00Z",
]
YEAR_MONTH_EDGES = ["0000-01", "0001-01", "9999-12", "2026-13", "2026-00", "2026-1", "99999-01"]
TEXT_EDGES = ["", " ", "x" * 5000, "😀", "%00", "'; --"]


def _edges(schema: dict[str, Any]) -> list[str]:
    options = schema.get("anyOf", [schema])
    values: list[str] = []
    for option in options:
        kind, fmt, pattern = option.get("type"), option.get("format"), option.get("pattern", "")
        if "$ref" in option:  # a named enum component (api/openapi.py): a string
            kind = "string"
        if fmt == "date":
            values += DATE_EDGES
        elif fmt == "date-time":
            values += DATETIME_EDGES
        elif r"\d{4}-" in pattern:
            values += YEAR_MONTH_EDGES
        elif kind == "integer":
            low, high = option.get("minimum", 0), option.get("maximum", 2**31)
            values += [str(v) for v in (low - 1, low, high, high + 1, 10**20, -(10**20))] + ["1.5"]
        elif kind == "number":
            values += ["-1e308", "1e308", "nan", "inf"]
        elif kind == "string" and fmt == "uuid":
            values += ["00000000-0000-0000-0000-000000000000", "not-a-uuid"]
        elif kind == "string":
            values += TEXT_EDGES
    return values


async def test_query_parameter_boundaries_never_answer_5xx(client: ApiClient, world: World) -> None:
    document = (await client.get("/openapi.json")).json()
    failures: list[str] = []
    sent = 0
    for path, operations in document["paths"].items():
        operation = operations.get("get")
        if (
            operation is None
            or "{" in path
            and not all(name in world.ids for name in _path_names(path))
        ):
            continue
        url = path.format(**{name: world.ids[name] for name in _path_names(path)})
        for parameter in operation.get("parameters", []):
            if parameter["in"] != "query":
                continue
            for value in _edges(parameter["schema"]):
                r = await client.get(
                    url, params={parameter["name"]: value}, headers=world.owner.headers
                )
                sent += 1
                where = f"GET {path}?{parameter['name']}={value[:40]!r}"
                if r.status_code >= 500:
                    failures.append(f"{where} -> {r.status_code} {r.text[:300]}")
                elif r.status_code >= 400 and not r.headers["content-type"].startswith(
                    "application/problem+json"
                ):
                    failures.append(f"{where} -> {r.status_code} {r.headers['content-type']}")
    assert sent > 100, sent  # the document was read and its parameters reached
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures)


def _path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


async def test_impossible_months_and_dates_are_422(client: ApiClient, world: World) -> None:
    """The cases contract fuzzing found answering 500, and their neighbours, named."""
    m = world.ids["merchant_id"]
    cases = [
        (f"/v1/merchants/{m}/reports/customer-service", "month", "0000-01"),
        (f"/v1/merchants/{m}/reports/customer-service.csv", "month", "0000-01"),
        (f"/v1/merchants/{m}/reports/customer-service", "month", "2026-13"),
        (f"/v1/merchants/{m}/settlements", "period", "0000-01"),
        (f"/v1/merchants/{m}/settlements.csv", "period", "0000-01"),
        (f"/v1/merchants/{m}/settlements", "period", "2026-13"),
        (f"/v1/merchants/{m}/bookings", "date", "9999-12-31"),
        (f"/v1/merchants/{m}/follow-ups/due", "date", "0001-01-01"),
        (f"/v1/merchants/{m}/complaints/stats", "since", "0001-01-01T00:00:00+14:00"),
    ]
    for path, name, value in cases:
        r = await client.get(path, params={name: value}, headers=world.owner.headers)
        body = assert_problem(r, 422, "validation_error")
        assert any(name in error["loc"] for error in body["errors"]), (path, body)
    # the edges that are fine stay fine
    ok = await client.get(
        f"/v1/merchants/{m}/settlements", params={"period": "2026-12"}, headers=world.owner.headers
    )
    assert ok.status_code == 200, ok.text
