"""The merchants package's rows about a person: the reviews they wrote (kept; after erasure
the author shows as the erased account's display name)."""

from __future__ import annotations

import uuid
from typing import Any

from merchants.models import Review


def export_specs(user_id: uuid.UUID) -> dict[str, Any]:
    return {"reviews": (Review, Review.user_id == user_id, ())}
