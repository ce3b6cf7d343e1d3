"""The customers package's permission aliases. Every customers route lives under
/v1/merchants/{merchant_id}/…: its records, follow-ups, complaints and segments are that
merchant's, so the merchant-level aliases of `accounts.permissions` (built by the one factory,
`staff_of("merchant_id")`) are this package's; a caller who is not staff of the merchant gets
its 404. Clerks see phone numbers masked (customers/service/directory.py).
"""

from __future__ import annotations

from accounts.permissions import AnyStaff, ManagerStaff, OwnerStaff, StaffContext

__all__ = ["AnyStaff", "ManagerStaff", "OwnerStaff", "StaffContext"]
