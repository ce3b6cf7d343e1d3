"""The FastAPI app factory: settings, lifespan resources, middleware, errors, routers."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from accounts.routes import router as accounts_router
from api.console import mount_console
from api.docs import install_docs
from api.health import router as health_router
from api.limits import BodyLimitMiddleware
from api.me import router as me_router
from api.middleware import RequestContextMiddleware
from api.openapi import install_openapi, route_operation_id
from api.payments import add_callback_route as add_payment_callback_route
from api.payments import router as payments_router
from api.shop_page import add_shop_page_route
from api.wiring import wire_packages
from core.database import ReadRouter, create_engine, create_sessionmaker
from core.discovery import DiscoveryReads
from core.dispatch import LeanDispatchApp
from core.errors import install_error_handlers
from core.lean import write_pool
from core.logging import configure_logging
from core.redis import create_redis
from core.settings import Settings, get_settings
from core.sms import sms_sender
from coupons.routes import add_lean_routes as add_coupon_lean_routes
from coupons.routes import router as coupons_router
from customers.routes import router as customers_router
from memberships.routes import add_lean_routes as add_membership_lean_routes
from memberships.routes import router as memberships_router
from merchants.routes import add_direct_routes
from merchants.routes import router as merchants_router
from orders.routes import add_lean_routes as add_order_lean_routes
from orders.routes import router as orders_router
from push.routes import router as push_router

# the counter's writes (and claims, joins) as lean routes on the app's own router (core.lean)
LEAN_ROUTES = [
    add_coupon_lean_routes,
    add_membership_lean_routes,
    add_order_lean_routes,
    add_payment_callback_route,
]

API_ROUTERS = [
    accounts_router,
    merchants_router,
    coupons_router,
    memberships_router,
    customers_router,
    push_router,
    orders_router,
    payments_router,
    me_router,
]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_json)
    wire_packages()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.engine = create_engine(settings)
        app.state.sessionmaker = create_sessionmaker(app.state.engine)
        replica_engine = (
            create_engine(settings, settings.async_replica_url, pool_pre_ping=True)
            if settings.async_replica_url
            else None
        )
        app.state.read_router = ReadRouter(
            app.state.sessionmaker,
            create_sessionmaker(replica_engine) if replica_engine else None,
            settings.replica_retry_seconds,
        )
        app.state.discovery = DiscoveryReads.from_settings(settings)
        await app.state.discovery.open()
        # the counter's lean routes (core.lean) write on their own asyncpg pool
        app.state.writes = write_pool(settings)
        await app.state.writes.open(wait=False)
        app.state.redis = create_redis(settings)
        app.state.sms = sms_sender(settings)
        # What start-up built (modules, routes, models) lives as long as the process: frozen
        # out of the collector, a full collection under load scans only request garbage
        # instead of pausing the event loop for 100+ ms (the p99 of every request in flight)
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await app.state.redis.aclose()
            await app.state.sms.aclose()
            await app.state.engine.dispose()
            await app.state.discovery.close()
            await app.state.writes.close()
            if replica_engine is not None:
                await replica_engine.dispose()

    # FastAPI with the lean dispatch in front (core.dispatch): direct and lean routes skip
    # the framework's generic layers, keeping the app's middleware and error handlers
    app = LeanDispatchApp(
        title="Corner",
        version="0.1.0",
        description="Backend for neighbourhood merchants and the people who live around them.",
        lifespan=lifespan,
        docs_url=None,  # api.docs serves both pages with local assets
        redoc_url=None,
        generate_unique_id_function=route_operation_id,
    )
    app.state.settings = settings
    install_error_handlers(app)
    # the body limit sits inside the request context, so its 413 has a request id and language
    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(RequestContextMiddleware)
    add_direct_routes(app.router)
    add_shop_page_route(app.router)
    for add_lean_routes in LEAN_ROUTES:
        add_lean_routes(app.router)
    app.include_router(health_router)
    for router in API_ROUTERS:
        app.include_router(router)
    mount_console(app)
    install_docs(app)
    install_openapi(app)
    return app
