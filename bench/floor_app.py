"""The floor: the fastest a plain FastAPI app on plain uvicorn serves what the dashboard's API
serves, on this machine. bench/api_load.py compares the real app against it.

Measures nothing itself; it is the server of the comparison. One uvicorn process with uvicorn's
defaults (httptools and uvloop when installed; it prints which), access log off as in the app:

* `GET /api/v1/ping` -> `{"pong": true}` (a plain FastAPI route returning a dict, as the app's);
* `GET /api/v1/positions` -> the bytes stored at Redis key `--key`, one redis-py asyncio GET per
  request, after checking that an `Authorization: Bearer ...` header is present (`--auth presence`,
  the default) or also decoding it as an HS256 JWT with PyJWT (`--auth jwt`, secret from
  `FLOOR_JWT_SECRET`); 401 without it;
* `GET /health/ready` -> 200 once Redis holds the key (what `harness.wait_ready` polls).

The bytes are what the real app serves for that endpoint: bench/api_load.py fetches them from the
running app with a real token and stores them before starting the floor. Standalone:

    .venv/bin/python bench/floor_app.py --port 8099 --key floor:positions \\
        [--fill-from http://127.0.0.1:8080]   # with FLOOR_TOKEN=<an access token of that app>
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Literal

import httpx
import jwt
import uvicorn
from fastapi import FastAPI, Header, Response
from redis.asyncio import Redis

Auth = Literal["presence", "jwt"]


@dataclass
class FloorConfig:
    redis_url: str = "redis://127.0.0.1:6379/0"
    key: str = "floor:positions"
    auth: Auth = "presence"
    jwt_secret: str = ""
    fill_from: str | None = None
    fill_token: str = ""


CONFIG = FloorConfig()
redis: Redis | None = None


async def fill(config: FloorConfig, client: Redis) -> None:
    """Fetch the real app's positions bytes with a real token and store them once."""
    async with httpx.AsyncClient(base_url=config.fill_from or "", timeout=10) as http:
        response = await http.get(
            "/api/v1/positions", headers={"Authorization": f"Bearer {config.fill_token}"}
        )
        response.raise_for_status()
    await client.set(config.key, response.content)


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    global redis
    redis = Redis.from_url(CONFIG.redis_url)
    if CONFIG.fill_from:
        await fill(CONFIG, redis)
    size = await redis.strlen(CONFIG.key)
    loop = type(asyncio.get_running_loop())
    print(f"floor: event loop {loop.__module__}.{loop.__qualname__}", flush=True)
    print(f"floor: {size} bytes at Redis key {CONFIG.key!r}, auth check: {CONFIG.auth}", flush=True)
    try:
        yield
    finally:
        await redis.aclose()


app = FastAPI(lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)


@app.get("/api/v1/ping")
async def ping() -> dict[str, bool]:
    return {"pong": True}


@app.get("/api/v1/positions")
async def positions(authorization: Annotated[str | None, Header()] = None) -> Response:
    if authorization is None or not authorization.startswith("Bearer "):
        return Response(b'{"detail":"not authenticated"}', status_code=401, media_type="application/json")
    if CONFIG.auth == "jwt":
        try:
            jwt.decode(authorization[7:], CONFIG.jwt_secret, algorithms=["HS256"])
        except jwt.InvalidTokenError:
            return Response(b'{"detail":"bad token"}', status_code=401, media_type="application/json")
    assert redis is not None
    payload = await redis.get(CONFIG.key)
    if payload is None:
        return Response(b'{"detail":"no bytes in Redis"}', status_code=503, media_type="application/json")
    return Response(payload, media_type="application/json")


@app.get("/health/ready")
async def ready() -> Response:
    assert redis is not None
    ok = bool(await redis.exists(CONFIG.key))
    return Response(b'{"ready":%s}' % (b"true" if ok else b"false"), status_code=200 if ok else 503)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--redis-url", default=CONFIG.redis_url)
    parser.add_argument("--key", default=CONFIG.key, help="Redis key holding the positions bytes")
    parser.add_argument("--auth", choices=["presence", "jwt"], default="presence", help="Bearer check")
    parser.add_argument("--fill-from", default=None, help="fetch the bytes from this app (FLOOR_TOKEN)")
    args = parser.parse_args()
    CONFIG.redis_url, CONFIG.key, CONFIG.auth = args.redis_url, args.key, args.auth
    CONFIG.jwt_secret = os.environ.get("FLOOR_JWT_SECRET", "")
    CONFIG.fill_from, CONFIG.fill_token = args.fill_from, os.environ.get("FLOOR_TOKEN", "")
    if CONFIG.auth == "jwt" and len(CONFIG.jwt_secret) < 32:
        raise SystemExit("--auth jwt needs FLOOR_JWT_SECRET (the app's DASHBOARD_JWT_SECRET)")
    # uvicorn's defaults (http="auto", loop="auto"); only the access log is off, as in the app.
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning")
    config.load()
    http = config.http_protocol_class
    print(f"floor: uvicorn {uvicorn.__version__}, HTTP {http.__module__}.{http.__qualname__}", flush=True)
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
