"""Imports every package's models so Base.metadata holds the whole schema.

Add a line here when a package gains a models.py (Alembic autogenerate and tests read it).
"""

import accounts.models  # noqa: F401
import core.idempotency  # noqa: F401
import core.payment_records  # noqa: F401
import coupons.models  # noqa: F401
import customers.models  # noqa: F401
import memberships.models  # noqa: F401
import merchants.models  # noqa: F401
import orders.models  # noqa: F401
import push.models  # noqa: F401
