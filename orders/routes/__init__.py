"""HTTP routes of the orders package (thin: authorize, call the service, shape), by concept."""

from fastapi import APIRouter

from orders.routes.bookings import router as bookings_router
from orders.routes.day_close import router as day_close_router
from orders.routes.orders import add_lean_routes
from orders.routes.orders import router as orders_router
from orders.routes.settlement import router as settlement_router

router = APIRouter()
router.include_router(orders_router)
router.include_router(bookings_router)
router.include_router(settlement_router)
router.include_router(day_close_router)

__all__ = ["add_lean_routes", "router"]
