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
from tests.hardening.live import live_server
from tests.helpers import ApiClient

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
    schema = schemathesis.openapi.from_url(f"{server}/openapi.json")
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
