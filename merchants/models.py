from __future__ import annotations

import uuid
from typing import Any

from geoalchemy2 import Geography
from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.models import Base, IdMixin, TimestampMixin


class Shop(IdMixin, TimestampMixin, Base):
    __tablename__ = "shops"

    merchant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("merchants.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(120))
    category: Mapped[str] = mapped_column(String(32), index=True)
    # WGS-84 geography; conversions to GCJ-02/BD-09 happen at the API edge (geo/)
    location: Mapped[Any] = mapped_column(
        Geography(geometry_type="POINT", srid=4326, spatial_index=False)
    )
    address: Mapped[str] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(20))
    opening_hours: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    # public-service places (banks, post offices, clinics): found by search, never sell
    discovery_only: Mapped[bool] = mapped_column(default=False, server_default="false")

    __table_args__ = (Index("ix_shops_location", "location", postgresql_using="gist"),)
