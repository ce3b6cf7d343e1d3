"""A local stand-in for FCM's HTTP v1 API and Google's OAuth token endpoint.

It records every request, checks the bearer token it issued (after verifying the service
account's signed JWT assertion with its public key), keeps what each device would show (a
message replaces a shown one with the same Android notification tag, as on a phone), and can
answer errors per token:
UNREGISTERED, invalid token, or a scripted sequence of statuses (429, 503...). Tests run it
in a thread; the benchmark runs it as a subprocess (`python -m tests.push.fake_fcm`).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import socket
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass
class FakeFcmState:
    public_key_pem: bytes | None = None
    delay_seconds: float = 0.0
    delay_after: int = 0  # only requests after this many are delayed
    pending: int = 0  # requests being answered
    unregistered: set[str] = field(default_factory=set)
    invalid: set[str] = field(default_factory=set)
    # token -> statuses to answer, one per request, before succeeding
    script: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    requests: list[dict[str, Any]] = field(default_factory=list)
    delivered: list[str] = field(default_factory=list)
    distinct: set[str] = field(default_factory=set)
    # what each device shows: token -> notification identity (Android tag) -> message; a
    # message with the tag of a shown notification replaces it, as Android does
    trays: dict[str, dict[str, dict[str, Any]]] = field(default_factory=lambda: defaultdict(dict))
    # token -> data.delivery_id of every message accepted for it
    delivery_ids: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    token_requests: int = 0
    issued: set[str] = field(default_factory=set)
    first_at: float | None = None
    last_at: float | None = None
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def reset(self) -> None:
        self.delay_seconds = 0.0
        self.delay_after = 0
        self.unregistered.clear()
        self.invalid.clear()
        self.script.clear()
        self.requests.clear()
        self.delivered.clear()
        self.distinct.clear()
        self.trays.clear()
        self.delivery_ids.clear()
        self.first_at = self.last_at = None

    def delivered_counts(self) -> Counter[str]:
        return Counter(self.delivered)

    def shown_counts(self) -> Counter[str]:
        """Notifications each device shows (after replacements by identity)."""
        return Counter({token: len(tray) for token, tray in self.trays.items()})

    def accept(self, device: str, message: dict[str, Any]) -> None:
        self.delivered.append(device)
        self.distinct.add(device)
        tag = message.get("android", {}).get("notification", {}).get("tag")
        self.trays[device][tag or f"untagged-{next(self._ids)}"] = message
        delivery_id = message.get("data", {}).get("delivery_id")
        if delivery_id is not None:
            self.delivery_ids[device].append(delivery_id)


def _error(status: int, code: str, message: str, fcm_code: str | None = None) -> JSONResponse:
    details = (
        [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": fcm_code}]
        if fcm_code
        else []
    )
    body = {"error": {"code": status, "message": message, "status": code, "details": details}}
    headers = {"Retry-After": "0"} if status in (429, 503) else None
    return JSONResponse(body, status_code=status, headers=headers)


def create_app(state: FakeFcmState) -> Starlette:
    async def token(request: Request) -> Response:
        form = await request.form()
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        assertion = str(form.get("assertion", ""))
        if state.public_key_pem is not None:
            try:
                jwt.decode(
                    assertion,
                    state.public_key_pem,
                    algorithms=["RS256"],
                    options={"verify_aud": False},
                )
            except jwt.PyJWTError:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
        state.token_requests += 1
        access = f"fake-access-{next(state._ids)}"
        state.issued.add(access)
        return JSONResponse({"access_token": access, "expires_in": 3600, "token_type": "Bearer"})

    async def send(request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        if auth.removeprefix("Bearer ") not in state.issued:
            return _error(401, "UNAUTHENTICATED", "missing or invalid credential")
        body = await request.json()
        message = body.get("message", {})
        device = message.get("token", "")
        now = time.perf_counter()
        state.first_at = state.first_at or now
        state.requests.append(body)
        state.pending += 1
        try:
            if state.delay_seconds and len(state.requests) > state.delay_after:
                await asyncio.sleep(state.delay_seconds)
            return answer(request, device, message)
        finally:
            state.pending -= 1

    def answer(request: Request, device: str, message: dict[str, Any]) -> Response:
        if device in state.unregistered:
            return _error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED")
        if device in state.invalid:
            return _error(
                400,
                "INVALID_ARGUMENT",
                "The registration token is not a valid FCM registration token",
                "INVALID_ARGUMENT",
            )
        scripted = state.script.get(device)
        if scripted:
            status = scripted.pop(0)
            kind = {429: ("RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED")}.get(
                status, ("UNAVAILABLE", "UNAVAILABLE")
            )
            return _error(status, kind[0], "scripted failure", kind[1])
        state.accept(device, message)
        state.last_at = time.perf_counter()
        project = request.path_params["project"]
        return JSONResponse({"name": f"projects/{project}/messages/{next(state._ids)}"})

    async def stats(request: Request) -> Response:
        return JSONResponse(
            {
                "requests": len(state.requests),
                "delivered": len(state.delivered),
                "distinct": len(state.distinct),
                "shown": sum(state.shown_counts().values()),
                "first_at": state.first_at,
                "last_at": state.last_at,
            }
        )

    async def reset(request: Request) -> Response:
        state.reset()
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route("/token", token, methods=["POST"]),
            Route("/v1/projects/{project}/messages:send", send, methods=["POST"]),
            Route("/stats", stats, methods=["GET"]),
            Route("/reset", reset, methods=["POST"]),
        ]
    )


def service_account(path: Path, base_url: str, project_id: str = "corner-test") -> bytes:
    """Write a service-account JSON with a fresh RSA key whose token_uri is the fake's;
    returns the public key (PEM) so the fake can verify the signed assertions."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    info = {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": "fake-key-1",
        "private_key": private_pem,
        "client_email": f"push@{project_id}.iam.gserviceaccount.com",
        "client_id": "1234567890",
        "auth_uri": f"{base_url}/auth",
        "token_uri": f"{base_url}/token",
    }
    path.write_text(json.dumps(info))
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class FakeFcmServer:
    """The fake in a background thread with its own event loop."""

    def __init__(self) -> None:
        self.state = FakeFcmState()
        self._sock = free_socket()
        self.port = self._sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(self.state), log_level="warning", access_log=False, lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def start(self) -> FakeFcmServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake FCM did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--public-key", type=Path)
    args = parser.parse_args()
    state = FakeFcmState()
    if args.public_key:
        state.public_key_pem = args.public_key.read_bytes()
    uvicorn.run(
        create_app(state),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        lifespan="off",
    )


if __name__ == "__main__":
    main()
