"""The counter's card transactions and joining a programme: lean routes (core.lean) added to
the app's own router by `add_lean_routes`, not to the package router.

The handler reads the principal and the body itself and commits before the response; the
counter's transaction is idempotent (Idempotency-Key, scoped to the clerk).
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Request, Response, status

from accounts.permissions import current_principal, request_principal
from core.idempotency import idempotent
from core.lean import json_response, lean_post, read_path, read_request, transaction
from core.timezones import utcnow
from memberships import schemas, service


async def counter_transaction(request: Request) -> Response:
    principal = await request_principal(request)
    data, key = await read_request(request, schemas.CounterTransactionCreate, idempotent=True)
    async with transaction(request) as connection:  # committed before the response
        return await idempotent(
            connection,
            key=key,
            scope=f"card_tx:{principal.user_id}",
            payload=data.model_dump(mode="json"),
            status_code=status.HTTP_201_CREATED,
            run=lambda: service.counter_transaction(
                connection,
                settings=request.app.state.settings,
                redis=request.app.state.redis,
                staff_user_id=principal.user_id,
                data=data,
                now=utcnow(),
            ),
        )


async def join_program(request: Request) -> Response:
    principal = await request_principal(request)
    program_id = read_path(request, "program_id", uuid.UUID)
    async with transaction(request) as connection:  # committed before the response
        card = await service.join_program(
            connection, program_id=program_id, user_id=principal.user_id, now=utcnow()
        )
    return json_response(card, status.HTTP_201_CREATED)


def add_lean_routes(app_router: APIRouter) -> None:
    """Joining a programme and the counter's card transactions as lean routes (the bearer
    scheme documented, checked by the handlers)."""
    common: dict[str, Any] = {
        "tags": ["memberships"],
        "dependencies": [Depends(current_principal)],
        "status_code": status.HTTP_201_CREATED,
    }
    lean_post(
        app_router,
        "/v1/programs/{program_id}/join",
        join_program,
        path_params={"program_id": uuid.UUID},
        response_model=schemas.Card,
        **common,
    )
    lean_post(
        app_router,
        "/v1/counter/transactions",
        counter_transaction,
        body=schemas.CounterTransactionCreate,
        idempotent=True,
        response_model=schemas.CounterTransaction,
        **common,
    )
