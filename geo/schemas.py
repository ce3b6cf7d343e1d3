from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from geo.crs import Crs, from_wgs84, to_wgs84

__all__ = ["Crs", "LatLng"]


class LatLng(BaseModel):
    """A point in the request's coordinate system (WGS-84 unless `crs` says otherwise)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lat: float = Field(ge=-90, le=90, allow_inf_nan=False, examples=[31.2304])
    lng: float = Field(ge=-180, le=180, allow_inf_nan=False, examples=[121.4737])

    def to_wgs84(self, crs: Crs) -> LatLng:
        lat, lng = to_wgs84(self.lat, self.lng, crs)
        return LatLng(lat=lat, lng=lng)

    @classmethod
    def from_wgs84(cls, lat: float, lng: float, crs: Crs) -> LatLng:
        """A stored point, in `crs`, rounded to ~1 cm (7 decimals) like the map SDKs."""
        out_lat, out_lng = from_wgs84(lat, lng, crs)
        return cls(lat=round(out_lat, 7), lng=round(out_lng, 7))
