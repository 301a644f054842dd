"""The bytes stored in Redis: a small header, then the JSON payload.

Header: magic, the two generations the value was loaded under, the time it stops being fresh, and
a CRC32 of the payload. Anything that does not parse, or whose CRC does not match, is treated as
a miss, so a corrupt or foreign value can never reach a reader.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

MAGIC = b"TB1"
_HEADER = struct.Struct(">qqdI")
HEADER_SIZE = len(MAGIC) + _HEADER.size


@dataclass(frozen=True, slots=True)
class Envelope:
    family_gen: int
    scope_gen: int
    fresh_until: float  # epoch seconds (wall clock: shared by processes)
    payload: bytes


def pack(envelope: Envelope) -> bytes:
    header = _HEADER.pack(
        envelope.family_gen, envelope.scope_gen, envelope.fresh_until, zlib.crc32(envelope.payload)
    )
    return MAGIC + header + envelope.payload


def unpack(raw: bytes | None) -> Envelope | None:
    """The envelope, or None for a missing, truncated or corrupt value."""
    if raw is None or len(raw) < HEADER_SIZE or not raw.startswith(MAGIC):
        return None
    family_gen, scope_gen, fresh_until, crc = _HEADER.unpack_from(raw, len(MAGIC))
    payload = raw[HEADER_SIZE:]
    if zlib.crc32(payload) != crc:
        return None
    return Envelope(family_gen, scope_gen, fresh_until, payload)
