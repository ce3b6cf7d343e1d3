"""Every query of the orders package, one module per concept (orders, settlement, bookings)."""

from orders.repository.bookings import BookingRepository, ReminderRepository
from orders.repository.orders import OrderRepository
from orders.repository.settlement import ConsumedLine, PeriodTotals, SettlementRepository

__all__ = [
    "BookingRepository",
    "ConsumedLine",
    "OrderRepository",
    "PeriodTotals",
    "ReminderRepository",
    "SettlementRepository",
]
