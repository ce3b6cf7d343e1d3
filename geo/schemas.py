from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Crs = Literal["wgs84", "gcj02", "bd09"]


class LatLng(BaseModel):
    """A point in the request's coordinate system (WGS-84 unless `crs` says otherwise)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lat: float = Field(ge=-90, le=90, allow_inf_nan=False, examples=[31.2304])
    lng: float = Field(ge=-180, le=180, allow_inf_nan=False, examples=[121.4737])
