"""WGS-84 <-> GCJ-02 <-> BD-09, as Chinese map providers apply them.

GCJ-02 (AMap, Tencent) is WGS-84 shifted by an obfuscation formula; BD-09 (Baidu) shifts GCJ-02
once more. Providers only shift points inside mainland China, so points outside are returned
unchanged in every direction (the usual coarse test: a box around China minus Taiwan).
The inverse of GCJ-02 has no closed form: it is solved by fixed-point iteration to ~1e-9°
(sub-millimetre), far below the providers' own precision.
"""

from __future__ import annotations

from math import atan2, cos, pi, sin, sqrt
from typing import Literal

Crs = Literal["wgs84", "gcj02", "bd09"]

_A = 6378245.0  # Krasovsky 1940 semi-major axis, used by the GCJ-02 formula
_EE = 0.00669342162296594323  # its eccentricity squared
_X_PI = pi * 3000.0 / 180.0


def in_mainland_china(lat: float, lng: float) -> bool:
    if not (73.66 < lng < 135.05 and 3.86 < lat < 53.55):
        return False
    # Taiwan has no offset on the providers' maps
    return not (119.3 < lng < 124.6 and 21.8 < lat < 25.4)


def _shift_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt(abs(x))
    ret += (20.0 * sin(6.0 * x * pi) + 20.0 * sin(2.0 * x * pi)) * 2.0 / 3.0
    ret += (20.0 * sin(y * pi) + 40.0 * sin(y / 3.0 * pi)) * 2.0 / 3.0
    ret += (160.0 * sin(y / 12.0 * pi) + 320.0 * sin(y * pi / 30.0)) * 2.0 / 3.0
    return ret


def _shift_lng(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt(abs(x))
    ret += (20.0 * sin(6.0 * x * pi) + 20.0 * sin(2.0 * x * pi)) * 2.0 / 3.0
    ret += (20.0 * sin(x * pi) + 40.0 * sin(x / 3.0 * pi)) * 2.0 / 3.0
    ret += (150.0 * sin(x / 12.0 * pi) + 300.0 * sin(x / 30.0 * pi)) * 2.0 / 3.0
    return ret


def _gcj_offset(lat: float, lng: float) -> tuple[float, float]:
    dlat = _shift_lat(lng - 105.0, lat - 35.0)
    dlng = _shift_lng(lng - 105.0, lat - 35.0)
    radlat = lat / 180.0 * pi
    magic = 1 - _EE * sin(radlat) ** 2
    sqrtmagic = sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * pi)
    dlng = (dlng * 180.0) / (_A / sqrtmagic * cos(radlat) * pi)
    return dlat, dlng


def wgs84_to_gcj02(lat: float, lng: float) -> tuple[float, float]:
    if not in_mainland_china(lat, lng):
        return lat, lng
    dlat, dlng = _gcj_offset(lat, lng)
    return lat + dlat, lng + dlng


def gcj02_to_wgs84(lat: float, lng: float) -> tuple[float, float]:
    if not in_mainland_china(lat, lng):
        return lat, lng
    wlat, wlng = lat, lng
    for _ in range(30):
        glat, glng = wgs84_to_gcj02(wlat, wlng)
        dlat, dlng = glat - lat, glng - lng
        wlat, wlng = wlat - dlat, wlng - dlng
        if abs(dlat) < 1e-10 and abs(dlng) < 1e-10:
            break
    return wlat, wlng


def gcj02_to_bd09(lat: float, lng: float) -> tuple[float, float]:
    if not in_mainland_china(lat, lng):
        return lat, lng
    z = sqrt(lng * lng + lat * lat) + 0.00002 * sin(lat * _X_PI)
    theta = atan2(lat, lng) + 0.000003 * cos(lng * _X_PI)
    return z * sin(theta) + 0.006, z * cos(theta) + 0.0065


def bd09_to_gcj02(lat: float, lng: float) -> tuple[float, float]:
    if not in_mainland_china(lat, lng):
        return lat, lng
    x, y = lng - 0.0065, lat - 0.006
    z = sqrt(x * x + y * y) - 0.00002 * sin(y * _X_PI)
    theta = atan2(y, x) - 0.000003 * cos(x * _X_PI)
    return z * sin(theta), z * cos(theta)


def _bd09_to_gcj02_exact(lat: float, lng: float) -> tuple[float, float]:
    """Baidu's published inverse is itself approximate (~2e-7°); refine it by iteration so
    that a round trip returns the same point."""
    if not in_mainland_china(lat, lng):
        return lat, lng
    glat, glng = bd09_to_gcj02(lat, lng)
    for _ in range(10):
        blat, blng = gcj02_to_bd09(glat, glng)
        dlat, dlng = blat - lat, blng - lng
        glat, glng = glat - dlat, glng - dlng
        if abs(dlat) < 1e-11 and abs(dlng) < 1e-11:
            break
    return glat, glng


def to_wgs84(lat: float, lng: float, crs: Crs) -> tuple[float, float]:
    """A point given in `crs`, as WGS-84 (what the database stores)."""
    if crs == "gcj02":
        return gcj02_to_wgs84(lat, lng)
    if crs == "bd09":
        return gcj02_to_wgs84(*_bd09_to_gcj02_exact(lat, lng))
    return lat, lng


def from_wgs84(lat: float, lng: float, crs: Crs) -> tuple[float, float]:
    """A stored WGS-84 point, in the system the client asked for."""
    if crs == "gcj02":
        return wgs84_to_gcj02(lat, lng)
    if crs == "bd09":
        return gcj02_to_bd09(*wgs84_to_gcj02(lat, lng))
    return lat, lng
