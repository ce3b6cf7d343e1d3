"""A shop's photos (storefront, interior, product) and the order to show them in."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

PhotoKind = Literal["storefront", "interior", "product"]


class Photo(BaseModel):
    id: uuid.UUID
    shop_id: uuid.UUID
    kind: PhotoKind
    content_type: str
    width: int
    height: int
    size_bytes: int
    url: str
    thumbnail_url: str
    position: int
    created_at: datetime


class PhotoOrder(BaseModel):
    """The shop's photos in the order to show them; photos not named keep theirs, after."""

    model_config = ConfigDict(extra="forbid")

    photo_ids: list[uuid.UUID] = Field(min_length=1, max_length=200)
