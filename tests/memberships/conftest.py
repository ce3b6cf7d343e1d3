"""Shared setup for membership tests: a merchant with a shop, staff, and a two-tier program.

Fixtures only; the helpers test modules import live in helpers.py."""

from __future__ import annotations

import pytest

from tests.helpers import ApiClient
from tests.memberships.helpers import Setup, make_setup


@pytest.fixture
async def setup(client: ApiClient) -> Setup:
    return await make_setup(client)
