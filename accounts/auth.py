"""The accounts package's permission aliases. The one permission factory, `staff_of`, and
the principal dependencies live in accounts/permissions.py (every package builds its aliases
from them); the accounts routes (staff, invitations, merchant settings) are under
/v1/merchants/{merchant_id}/…, so the merchant-level aliases are this package's.
"""

from __future__ import annotations

from accounts.permissions import AnyStaff, CurrentUser, ManagerStaff, OwnerStaff, StaffContext

__all__ = ["AnyStaff", "CurrentUser", "ManagerStaff", "OwnerStaff", "StaffContext"]
