"""Base model and shared field conventions."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class ReadModel(BaseModel):
    """Immutable result model. Decimals serialise as strings in JSON, so no float sneaks in."""

    model_config = ConfigDict(frozen=True, from_attributes=True)
    SCHEMA_VERSION: ClassVar[int] = 1
