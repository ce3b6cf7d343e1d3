"""Transforms against published reference values (coordTransform / eviltransform vectors)."""

from __future__ import annotations

import random

import pytest

from geo import crs

# (input lat, lng) -> expected (lat, lng), from the reference implementations' test vectors
KNOWN = [
    (crs.wgs84_to_gcj02, (39.915, 116.404), (39.91640428150164, 116.41024449916938)),
    (crs.gcj02_to_bd09, (39.915, 116.404), (39.92133699351021, 116.41036949371029)),
    (crs.bd09_to_gcj02, (39.915, 116.404), (39.90865673957631, 116.39762729119315)),
    (crs.gcj02_to_wgs84, (39.915, 116.404), (39.91359571849836, 116.39775550083061)),
]


@pytest.mark.parametrize(("fn", "point", "expected"), KNOWN)
def test_known_points(
    fn: object, point: tuple[float, float], expected: tuple[float, float]
) -> None:
    lat, lng = fn(*point)  # type: ignore[operator]
    # the references' own inverse is approximate (~1e-5°); forward ones are exact formulas
    tolerance = 2e-5 if fn is crs.gcj02_to_wgs84 else 1e-9
    assert lat == pytest.approx(expected[0], abs=tolerance)
    assert lng == pytest.approx(expected[1], abs=tolerance)


def test_shanghai_offset_is_a_few_hundred_metres() -> None:
    lat, lng = crs.wgs84_to_gcj02(31.2304, 121.4737)
    # GCJ-02 moves Shanghai by roughly -0.002° lat, +0.0045° lng
    assert -0.0025 < lat - 31.2304 < -0.0015
    assert 0.0040 < lng - 121.4737 < 0.0050


def test_outside_mainland_unchanged() -> None:
    for point in [(51.5007, -0.1246), (25.0330, 121.5654), (-33.86, 151.21), (35.68, 139.76)]:
        for name in ("gcj02", "bd09"):
            assert crs.from_wgs84(*point, name) == point  # type: ignore[arg-type]
            assert crs.to_wgs84(*point, name) == point  # type: ignore[arg-type]


def test_round_trips_inside_china() -> None:
    rng = random.Random(7)
    for _ in range(500):
        lat, lng = rng.uniform(18.5, 53.0), rng.uniform(75.0, 134.0)
        if not crs.in_mainland_china(lat, lng):
            continue
        for name in ("gcj02", "bd09"):
            back = crs.to_wgs84(*crs.from_wgs84(lat, lng, name), name)  # type: ignore[arg-type]
            assert back[0] == pytest.approx(lat, abs=1e-8)
            assert back[1] == pytest.approx(lng, abs=1e-8)
