"""HTTP routes of the customers package (thin: authorize, call the service, shape)."""

from fastapi import APIRouter

from customers.routes.directory import router as directory_router
from customers.routes.service_desk import router as service_desk_router

router = APIRouter()
router.include_router(directory_router)
router.include_router(service_desk_router)

__all__ = ["router"]
