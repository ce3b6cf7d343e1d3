"""Routes of loyalty programmes: their rules (with the versions ledger entries refer to) and
their card design (mounted by the package router)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from accounts.permissions import AnyStaff, ManagerStaff
from core.database import SessionDep
from core.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery
from memberships import schemas, service
from memberships.auth import ProgramManager, ProgramStaff

router = APIRouter()

PNG = {"content": {"image/png": {}}, "description": "PNG image"}


@router.post(
    "/merchants/{merchant_id}/programs",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.Program,
)
async def create_program(
    merchant_id: uuid.UUID, data: schemas.ProgramCreate, staff: ManagerStaff, session: SessionDep
) -> schemas.Program:
    return await service.create_program(
        session, merchant_id=staff.merchant_id, data=data, created_by=staff.user_id
    )


@router.get("/merchants/{merchant_id}/programs", response_model=schemas.Page[schemas.Program])
async def list_programs(
    merchant_id: uuid.UUID,
    staff: AnyStaff,
    session: SessionDep,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> schemas.Page[schemas.Program]:
    return await service.list_programs(
        session, merchant_id=staff.merchant_id, cursor=cursor, limit=limit
    )


@router.get("/programs/{program_id}", response_model=schemas.Program)
async def get_program(program_id: uuid.UUID, session: SessionDep) -> schemas.Program:
    return await service.get_program(session, program_id=program_id)


@router.patch("/programs/{program_id}", response_model=schemas.Program)
async def update_program(
    program_id: uuid.UUID, data: schemas.ProgramUpdate, staff: ProgramManager, session: SessionDep
) -> schemas.Program:
    """Edit the rules (managers and owners): in force for every transaction that reads the
    programme after this answer; a change of the rules starts a new rule version."""
    return await service.update_program(
        session,
        program_id=program_id,
        merchant_id=staff.merchant_id,
        data=data,
        user_id=staff.user_id,
    )


@router.get(
    "/programs/{program_id}/versions", response_model=schemas.Page[schemas.ProgramRuleVersion]
)
async def list_rule_versions(
    program_id: uuid.UUID,
    staff: ProgramStaff,
    session: SessionDep,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> schemas.Page[schemas.ProgramRuleVersion]:
    """The programme's rule versions, newest first (what each ledger entry's rule_version
    refers to)."""
    return await service.list_rule_versions(
        session, program_id=program_id, cursor=cursor, limit=limit
    )


@router.put("/programs/{program_id}/design", response_model=schemas.Design)
async def set_design(
    program_id: uuid.UUID,
    data: schemas.DesignUpdate,
    staff: ProgramManager,
    session: SessionDep,
) -> schemas.Design:
    return await service.set_design(
        session, program_id=program_id, merchant_id=staff.merchant_id, data=data
    )


@router.get("/programs/{program_id}/design", response_model=schemas.Design)
async def get_design(program_id: uuid.UUID, session: SessionDep) -> schemas.Design:
    return await service.get_design(session, program_id=program_id)


@router.get(
    "/programs/{program_id}/design/preview.png",
    response_class=Response,
    responses={200: PNG},
)
async def design_preview(program_id: uuid.UUID, session: SessionDep) -> Response:
    png = await service.preview_png(session, program_id=program_id)
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-cache"})
