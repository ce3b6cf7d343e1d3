"""A merchant's programmes as a shop's page shows them to a consumer."""

from __future__ import annotations

from pydantic import Field

from memberships.schemas.cards import Card
from memberships.schemas.counts import CountProduct
from memberships.schemas.programs import Program


class ShopProgram(Program):
    count_products: list[CountProduct] = Field(description="Count cards on sale (active)")
    my_card: Card | None = Field(description="The caller's card of it (null: none, or anonymous)")
