"""Errors the services raise; the API maps them to 4xx, the CLI to a one-line message."""

from __future__ import annotations


class ServiceError(Exception):
    """Base of every expected, user-facing failure."""


class NotFound(ServiceError):
    """Does not exist, or is not visible to the viewer: the two are deliberately indistinguishable."""


class Forbidden(ServiceError):
    """The viewer's role may not use this read at all (e.g. a trader asking for the risk wall)."""


class InvalidInput(ServiceError, ValueError):
    """Input refused before anything was written. `field` names the offending field when known."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class Unauthenticated(ServiceError):
    """No valid credentials. The message is deliberately generic (never "no such user")."""


class NotConfigured(ServiceError):
    """The server lacks a setting this needs (e.g. the alert channels' key): the operator's to fix,
    not the caller's."""


class Conflict(ServiceError):
    """The request collides with stored state (e.g. a user with that e-mail already exists)."""


class TooManyAttempts(ServiceError):
    """Login throttled; `retry_after_s` says when the next attempt can succeed."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
