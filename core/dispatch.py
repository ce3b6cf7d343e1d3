"""Lean dispatch: a direct or lean route's request goes straight to its handler (issue 21).

A request to FastAPI passes about ten layers before its handler: FastAPI's telemetry check,
Starlette's ServerErrorMiddleware, FastAPI's exception-telemetry and body-limit layers, the
app's own middleware, ExceptionMiddleware, FastAPI's AsyncExitStackMiddleware, then the router
matching the path against its routes; every layer wraps `send` again, so each message of the
answer climbs back through all of them. For the counter's writes and the hottest reads
(`core.query.DirectRoute`, `core.lean.LeanRoute`) that was ~10 % of the request's CPU.

`LeanDispatchApp` (the app's class, `api.app`) answers such a request with the same behaviour
and fewer layers:

- **Which requests.** A path the router would hand to a direct route, with a method the route
  takes. The table is built from the router's own routes at the first request, in the
  router's order; a direct route that an earlier route might match (an earlier route with
  parameters, a mount, or a fixed path the direct route's pattern also matches) is taken only
  when none of those earlier routes matches the request. Anything else (a HEAD, another
  method's 405, a trailing slash to redirect, an unknown path, the OpenAPI document) goes
  through the full FastAPI stack as before.
- **What still runs, in the same order.** The app's own middleware (`app.user_middleware`:
  request id and language, metrics and access log, security headers, the body limit and its
  413, the catch-all 500), built once around the handler exactly as FastAPI builds it; the
  scope the router would give the route (`route`, `endpoint`, `path_params`, `app`, `router`);
  the app's exception handlers, through the wrapper Starlette's ExceptionMiddleware uses
  (problem+json for DomainError, the 422 of a validation error, HTTPException's handler).
- **What is skipped**, being work these routes never need: dependency solving (a direct route
  has none), the AsyncExitStack that closes uploaded files (a direct route reads no form),
  ServerErrorMiddleware (the app's RequestContextMiddleware already turns any exception into
  a problem+json 500 before an answer starts, so ServerErrorMiddleware never acts for them),
  and FastAPI's native telemetry (the dispatch is off when telemetry is enabled at the first
  request, or when the app or the server sets a root path).
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette._exception_handler import wrap_app_handling_exceptions
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from core.query import DirectRoute


class LeanDispatchApp(FastAPI):
    """FastAPI, with the lean dispatch in front of its middleware stack (see the module)."""

    _dispatch: _Dispatch | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            dispatch = self._dispatch
            if dispatch is None:
                dispatch = self._dispatch = _Dispatch(self)
            route = dispatch.route_for(scope)
            if route is not None:
                await dispatch.serve(route, scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    def lean_paths(self) -> list[str]:
        """The route paths the dispatch answers itself (for tests and the docs)."""
        dispatch = self._dispatch or _Dispatch(self)
        return [entry.route.path for entry in dispatch.entries]


class _Entry:
    """A direct route and the earlier routes that may match some of its paths (`guards`)."""

    __slots__ = ("guards", "methods", "route", "static")

    def __init__(self, route: DirectRoute, guards: list[BaseRoute]) -> None:
        self.route = route
        self.guards = guards
        self.methods = frozenset(route.methods or ())
        self.static = not route.param_convertors


class _Dispatch:
    def __init__(self, app: LeanDispatchApp) -> None:
        self.app = app
        self.router = app.router
        self.entries: list[_Entry] = []
        self.by_path: dict[str, _Entry] = {}
        self.templated: list[_Entry] = []
        if (
            app.root_path
            or app.debug
            or getattr(app, "max_body_size", None) is not None  # FastAPI's own body limit
            or app._native_telemetry.enabled()  # noqa: SLF001
        ):
            return  # the full stack does what the dispatch would skip
        routes = list(self.router.routes)
        for index, route in enumerate(routes):
            if not isinstance(route, DirectRoute):
                continue
            entry = _Entry(route, [r for r in routes[:index] if _may_overlap(r, route)])
            self.entries.append(entry)
            if entry.static:
                self.by_path.setdefault(route.path, entry)
            else:
                self.templated.append(entry)
        handlers = {
            key: handler
            for key, handler in app.exception_handlers.items()
            if key not in (500, Exception)  # ServerErrorMiddleware's, as FastAPI sorts them
        }
        # Starlette's defaults (HTTPException's plain-text answer) under the app's handlers
        standard = ExceptionMiddleware(self.router, handlers=handlers, debug=app.debug)
        self.exception_handlers = standard._exception_handlers  # noqa: SLF001
        self.status_handlers = standard._status_handlers  # noqa: SLF001
        # the app's own middleware around the handler, in FastAPI's order (the first added
        # is the outermost)
        stack: ASGIApp = self.handle
        for cls, args, kwargs in reversed(app.user_middleware):
            stack = cls(stack, *args, **kwargs)
        self.stack = stack

    def route_for(self, scope: Scope) -> DirectRoute | None:
        """The direct route the router would run for this request and method, or None."""
        if scope.get("root_path") or not self.entries:
            return None
        path = scope["path"]
        entry = self.by_path.get(path)
        if entry is None:
            for candidate in self.templated:
                if candidate.route.path_regex.match(path):
                    entry = candidate
                    break
            else:
                return None
        if scope["method"] not in entry.methods:
            return None  # the router's partial match: 405, or another route of that method
        for guard in entry.guards:
            if guard.matches(scope)[0] is not Match.NONE:
                return None
        return entry.route

    async def serve(self, route: DirectRoute, scope: Scope, receive: Receive, send: Send) -> None:
        # what Starlette's app, the router and ExceptionMiddleware put in the scope
        scope["app"] = self.app
        if "router" not in scope:
            scope["router"] = self.router
        match, child_scope = route.matches(scope)
        if match is not Match.FULL:  # the table and the route disagree: the router decides
            await super(LeanDispatchApp, self.app).__call__(scope, receive, send)
            return
        scope.update(child_scope)
        scope["starlette.exception_handlers"] = (self.exception_handlers, self.status_handlers)
        await self.stack(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The route, an exception it raises answered by the app's handler for it: Starlette's
        own wrapper, called as ExceptionMiddleware calls it (HTTPException by status first,
        then by class; a handled exception after the answer started is an error)."""
        route: DirectRoute = scope["route"]
        conn = Request(scope, receive, send)
        await wrap_app_handling_exceptions(route.handle, conn)(scope, receive, send)


def _may_overlap(earlier: BaseRoute, route: DirectRoute) -> bool:
    """Whether `earlier`, ahead of `route` in the router, might match a path `route` matches:
    a route with a fixed path only when `route`'s pattern matches that path; anything else
    (parameters, mounts, hosts, included routers) is assumed to."""
    if isinstance(earlier, Route) and not earlier.param_convertors:
        return route.path_regex.match(earlier.path) is not None
    return True
