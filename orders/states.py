"""The order state machine (pure): which moves are legal.

    pending_payment ─paid─▶ paid ─consumed─▶ consumed
          │                   └──refunded──▶ refunded
          ├─cancelled (holder, or a failed payment)
          └─expired (not paid in time)

Every move is applied with `UPDATE orders … WHERE status = <from>`, so of two concurrent
moves from one state exactly one happens; this table decides which moves are asked at all.
"""

from __future__ import annotations

TRANSITIONS: dict[str, frozenset[str]] = {
    "pending_payment": frozenset({"paid", "cancelled", "expired"}),
    "paid": frozenset({"consumed", "refunded"}),
    "consumed": frozenset(),
    "refunded": frozenset(),
    "expired": frozenset(),
    "cancelled": frozenset(),
}
TERMINAL = frozenset(s for s, targets in TRANSITIONS.items() if not targets)


def can_move(current: str, to: str) -> bool:
    return to in TRANSITIONS.get(current, frozenset())


def sources_of(to: str) -> list[str]:
    """The states from which `to` can be reached."""
    return [s for s, targets in TRANSITIONS.items() if to in targets]


# The booking state machine (the bookings board):
#
#     booked ─arrived─▶ arrived ─completed─▶ completed
#       ├─no_show (staff, once the booking has started)
#       └─cancelled (holder or staff, its own route)
#
# Applied like orders' moves, `UPDATE bookings … WHERE status = <from>`: of two staff setting
# conflicting statuses at once, one moves the booking and the other finds it moved (409).
BOOKING_TRANSITIONS: dict[str, frozenset[str]] = {
    "booked": frozenset({"arrived", "no_show", "cancelled"}),
    "arrived": frozenset({"completed"}),
    "completed": frozenset(),
    "no_show": frozenset(),
    "cancelled": frozenset(),
}


def booking_can_move(current: str, to: str) -> bool:
    return to in BOOKING_TRANSITIONS.get(current, frozenset())
