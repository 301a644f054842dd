"""`/auth`: log in, rotate the refresh token, log out (everywhere), and who am I."""

from __future__ import annotations

from fastapi import APIRouter, Response

from dashboard.api.deps import AnyCaller, ClientAddr, RuntimeDep
from dashboard.api.schemas import ErrorOut, LoginIn, MeOut, RefreshIn, TokenOut
from dashboard.auth.sessions import TokenPair

router = APIRouter(prefix="/auth", tags=["auth"])


def _tokens(pair: TokenPair) -> TokenOut:
    return TokenOut(
        access_token=pair.access.token, refresh_token=pair.refresh.token, expires_in=pair.access.expires_in
    )


@router.post(
    "/login",
    response_model=TokenOut,
    responses={
        401: {"model": ErrorOut, "description": "invalid email or password (one message for every cause)"},
        422: {"model": ErrorOut},
        429: {"model": ErrorOut, "description": "too many failures; see Retry-After"},
    },
)
async def login(body: LoginIn, runtime: RuntimeDep, addr: ClientAddr) -> TokenOut:
    """Exchange e-mail and password for an access token (15 min) and a refresh token."""
    return _tokens(await runtime.auth.login(body.email, body.password, addr))


@router.post(
    "/refresh", response_model=TokenOut, responses={401: {"model": ErrorOut}, 422: {"model": ErrorOut}}
)
async def refresh(body: RefreshIn, runtime: RuntimeDep, addr: ClientAddr) -> TokenOut:
    """Rotate: the refresh token is spent and a new pair issued. Presenting a spent refresh token
    again revokes every session of its user."""
    return _tokens(await runtime.auth.refresh(body.refresh_token, addr))


@router.post("/logout", status_code=204, responses={401: {"model": ErrorOut}})
async def logout(caller: AnyCaller, addr: ClientAddr) -> Response:
    """End every session of the caller at once (all tokens, all tabs, all devices)."""
    await caller.runtime.auth.logout(caller.principal, addr)
    return Response(status_code=204)


@router.get("/me", response_model=MeOut, responses={401: {"model": ErrorOut}})
async def me(caller: AnyCaller) -> MeOut:
    principal = caller.principal
    return MeOut(
        user_id=principal.user_id,
        email=principal.email,
        display_name=principal.display_name,
        role=principal.role,
    )
