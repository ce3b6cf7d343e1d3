"""Routes of count cards (次卡) and pre-printed card numbers (mounted by the package router)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response, status
from starlette.datastructures import UploadFile

from accounts.permissions import CurrentUser
from core.database import SessionDep
from core.errors import InvalidInput
from core.i18n import localised
from core.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery
from core.payments import StartsPayment
from core.timezones import utcnow
from memberships import physical, schemas, service
from memberships.auth import ProgramManager
from memberships.service.errors import PhysicalImportInvalid

router = APIRouter()

MAX_IMPORT_BYTES = 4 * 1024 * 1024  # ~200k numbers; larger files: `corner import-physical-cards`


@router.post(
    "/programs/{program_id}/count-products",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.CountProduct,
)
async def create_count_product(
    program_id: uuid.UUID,
    data: schemas.CountProductCreate,
    staff: ProgramManager,
    session: SessionDep,
) -> schemas.CountProduct:
    return await service.create_count_product(
        session, program_id=program_id, merchant_id=staff.merchant_id, data=data
    )


@router.patch(
    "/programs/{program_id}/count-products/{product_id}", response_model=schemas.CountProduct
)
async def update_count_product(
    program_id: uuid.UUID,
    product_id: uuid.UUID,
    data: schemas.CountProductUpdate,
    staff: ProgramManager,
    session: SessionDep,
) -> schemas.CountProduct:
    return await service.set_count_product_active(
        session, program_id=program_id, product_id=product_id, active=data.active
    )


@router.get(
    "/programs/{program_id}/count-products", response_model=schemas.Page[schemas.CountProduct]
)
async def list_count_products(
    program_id: uuid.UUID,
    session: SessionDep,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> schemas.Page[schemas.CountProduct]:
    return await service.list_count_products(
        session, program_id=program_id, cursor=cursor, limit=limit
    )


@router.post(
    "/cards/{card_id}/count-passes",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.CountPass,
)
async def buy_count_pass(
    card_id: uuid.UUID,
    data: schemas.CountPassCreate,
    principal: CurrentUser,
    session: SessionDep,
    pay: StartsPayment,
) -> Response:
    return await pay(
        f"card_count_pass:{principal.user_id}:{card_id}",
        data,
        lambda checkout: service.buy_count_pass(
            session, checkout, card_id=card_id, user_id=principal.user_id, data=data
        ),
    )


@router.post(
    "/counter/count-passes",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.CountPass,
)
async def sell_count_pass(
    data: schemas.CounterCountPassCreate,
    principal: CurrentUser,
    session: SessionDep,
    pay: StartsPayment,
) -> Response:
    """A clerk sells a count card at the counter; the uses arrive with the payment."""
    return await pay(
        f"counter_count_pass:{principal.user_id}",
        data,
        lambda checkout: service.sell_count_pass(
            session, checkout, staff_user_id=principal.user_id, data=data
        ),
    )


@router.get("/cards/{card_id}/count-passes", response_model=list[schemas.CountPass])
async def card_count_passes(
    card_id: uuid.UUID, principal: CurrentUser, session: SessionDep
) -> list[schemas.CountPass]:
    return await service.card_count_passes(
        session, card_id=card_id, user_id=principal.user_id, now=utcnow()
    )


def _decode(raw: bytes) -> str:
    # spreadsheet exports here are UTF-8 (perhaps with a BOM) or GB18030
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise PhysicalImportInvalid(
        localised(
            "文件不是 UTF-8 或 GB18030 编码的文本", "The file is neither UTF-8 nor GB18030 text"
        ),
        loc=["body"],
    )


# how a file read by `read_upload` is declared in OpenAPI: raw CSV text, or a multipart `file`
UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            },
        },
    }
}


def _too_large(limit: int) -> str:
    megabytes = f"{limit / (1024 * 1024):g}"
    return localised(f"文件不能超过 {megabytes} MB", f"The file may be at most {megabytes} MB")


async def read_upload(
    request: Request,
    *,
    invalid: type[InvalidInput] = PhysicalImportInvalid,
    limit: int = MAX_IMPORT_BYTES,
) -> tuple[bytes, str | None]:
    """(bytes, file name) of an upload sent as a multipart `file` field or as the raw body;
    `invalid` is raised when it is missing or larger than `limit`."""
    if int(request.headers.get("content-length") or 0) > limit + 64 * 1024:
        raise invalid(_too_large(limit), loc=["body"])
    content_type = request.headers.get("content-type", "")
    filename = None
    if content_type.startswith("multipart/form-data"):
        form = await request.form(max_files=1, max_fields=5)
        uploads = [v for v in form.values() if isinstance(v, UploadFile)]
        if not uploads:
            raise invalid(
                localised(
                    "请用名为 file 的表单字段上传文件", "Send the file in a form field named file"
                ),
                loc=["body", "file"],
            )
        raw = await uploads[0].read(limit + 1)
        filename = uploads[0].filename
    else:
        raw = await request.body()
    if len(raw) > limit:
        raise invalid(_too_large(limit), loc=["body"])
    return raw, filename


@router.post(
    "/programs/{program_id}/physical-cards",
    response_model=schemas.PhysicalCardImport,
    openapi_extra=UPLOAD_BODY,
)
async def import_physical_cards(
    program_id: uuid.UUID, request: Request, staff: ProgramManager, session: SessionDep
) -> schemas.PhysicalCardImport:
    """Import pre-printed card numbers (CSV: one number per row, optional header `number`);
    bad rows are reported, the others imported."""
    text = _decode((await read_upload(request))[0])
    return await service.import_physical_cards(
        session,
        program_id=program_id,
        merchant_id=staff.merchant_id,
        rows=physical.rows_of_text(text),
    )


@router.post(
    "/cards/{card_id}/physical-card",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.PhysicalCardBinding,
)
async def bind_physical_card(
    card_id: uuid.UUID,
    data: schemas.PhysicalCardBind,
    principal: CurrentUser,
    session: SessionDep,
) -> schemas.PhysicalCardBinding:
    return await service.bind_physical_card(
        session, card_id=card_id, user_id=principal.user_id, data=data, now=utcnow()
    )
