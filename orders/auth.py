"""The orders package's permission aliases (`accounts.permissions.staff_of`): staff of the
merchant a shop belongs to (day close, bookings board), and the merchant-level ones for
routes under /v1/merchants/{merchant_id}/… (settlement). A caller who is not staff there gets
the resource's own 404. Orders and bookings themselves are reached by their holder or by
staff, so those checks are in the services (orders/service/consume.py, bookings.py).
"""

from __future__ import annotations

from typing import Annotated

from accounts.permissions import AnyStaff, ManagerStaff, StaffContext
from merchants.auth import shop_staff

ShopStaff = Annotated[StaffContext, shop_staff("clerk")]

__all__ = ["AnyStaff", "ManagerStaff", "ShopStaff", "StaffContext"]
