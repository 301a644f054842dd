"""Cache keys, built in one place so that scope and schema can never be forgotten.

Format: `<ns>:v1:<family>:<scope>:<schema>:<params>`.
- `scope` is the viewer's visibility (`all` for risk/admin, `u<id>` for a trader), so a trader's
  key never serves a wider view or another trader's data.
- `schema` is the result model's `SCHEMA_VERSION` plus a fingerprint of its JSON schema: a deploy
  that changes the model reads different keys even if nobody remembered to bump the version.
- `params` is a canonical `name=value` list (sorted, URL-quoted); long lists are hashed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import Enum
from functools import cache, lru_cache
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel

from dashboard.services.viewer import Viewer

KEY_VERSION = "v1"
_MAX_PARAMS_LEN = 120


@dataclass(frozen=True, slots=True)
class CacheKey:
    family: str
    scope: str
    schema: str
    params: str

    def redis_key(self, namespace: str) -> str:
        return f"{namespace}:{KEY_VERSION}:{self.family}:{self.scope}:{self.schema}:{self.params}"


@cache
def schema_tag(model: type[BaseModel]) -> str:
    """`s<version>-<fingerprint>`: changes whenever the model's fields or types change."""
    version = getattr(model, "SCHEMA_VERSION", 0)
    fingerprint = hashlib.sha1(
        json.dumps(model.model_json_schema(), sort_keys=True).encode(), usedforsecurity=False
    ).hexdigest()[:8]
    return f"s{version}-{fingerprint}"


def _canonical(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("cache key datetimes must be timezone-aware")
        return value.isoformat()
    if isinstance(value, timedelta):
        return f"{value.total_seconds():g}s"
    if isinstance(value, int | str | Decimal):
        return str(value)
    raise TypeError(f"unsupported cache key parameter type {type(value).__name__}")


def encode_params(params: dict[str, Any]) -> str:
    text = ",".join(f"{name}={quote(_canonical(params[name]), safe='')}" for name in sorted(params))
    if len(text) > _MAX_PARAMS_LEN:
        return "h" + hashlib.sha256(text.encode()).hexdigest()[:32]
    return text or "_"


def cache_key(family: str, viewer: Viewer | str, model: type[BaseModel], **params: Any) -> CacheKey:
    """The key of one cached read. `viewer` may be a literal scope (`global`) for data that is the
    same for everybody (market guards)."""
    scope = viewer if isinstance(viewer, str) else viewer.scope
    return _built(family, scope, model, tuple(sorted(params.items())))


@lru_cache(maxsize=8192)
def _built(family: str, scope: str, model: type[BaseModel], params: tuple[tuple[str, Any], ...]) -> CacheKey:
    """Keys are rebuilt for every request with the same few parameter sets: remember them."""
    if ":" in family or ":" in scope:
        raise ValueError("family and scope must not contain ':'")
    return CacheKey(family=family, scope=scope, schema=schema_tag(model), params=encode_params(dict(params)))


def generation_key(namespace: str, family: str, scope: str | None) -> str:
    """Generation counter of one (family, scope), or of the whole family when scope is None."""
    return f"{namespace}:{KEY_VERSION}:gen:{family}:{scope or '*'}"


def lock_key(namespace: str, key: CacheKey) -> str:
    return f"{namespace}:{KEY_VERSION}:lock:{key.redis_key(namespace)}"


def channel(namespace: str) -> str:
    return f"{namespace}:{KEY_VERSION}:invalidate"
