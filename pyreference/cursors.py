"""Page cursors: a keyset position, bound to owner and filter, signed with the database's secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from .errors import InvalidCursor


class CursorSecret:
    """The database's cursor secret as last read (None until a read has seen it)."""

    value: str | None = None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def derive_key(secret: str, owner: str) -> str:
    """The key that signs `owner`'s cursors: what pyref_cursor_key_v1() computes on Postgres,
    so that a reader, which never sees the database's secret, can still sign and verify."""
    return hashlib.sha256(f"{secret}:{owner}".encode()).hexdigest()


def encode_cursor(secret: str, owner: str, connector_id: str | None, key: list[str]) -> str:
    """An opaque cursor: the keyset position, bound to owner and filter, HMAC-signed."""
    payload = json.dumps({"o": owner, "f": connector_id, "k": key}, separators=(",", ":")).encode()
    mac = hmac.new(secret.encode(), payload, hashlib.sha256).digest()[:16]
    return f"{_b64(payload)}.{_b64(mac)}"


def cursor_position(cursor: str, owner: str, connector_id: str | None) -> list[str]:
    """The keyset position a cursor claims, bound to owner and filter; not yet verified."""
    payload, _ = _split(cursor)
    try:
        data = json.loads(payload)
    except ValueError:
        raise InvalidCursor("cursor is malformed") from None
    if not isinstance(data, dict):
        raise InvalidCursor("cursor is malformed")
    if data.get("o") != owner or data.get("f") != connector_id:
        raise InvalidCursor("cursor belongs to another owner or filter")
    key = data.get("k")
    if not (isinstance(key, list) and len(key) == 3 and all(isinstance(k, str) for k in key)):
        raise InvalidCursor("cursor is malformed")
    return key


def check_format(cursor: str) -> None:
    """Raise InvalidCursor unless the cursor has the shape of one (payload.signature)."""
    _split(cursor)


def verify_cursor(secret: str, cursor: str) -> None:
    """Raise InvalidCursor unless the cursor was signed with this database's secret."""
    payload, given = _split(cursor)
    expected = hmac.new(secret.encode(), payload, hashlib.sha256).digest()[:16]
    if not hmac.compare_digest(given, expected):
        raise InvalidCursor("cursor signature does not match (tampered, or from another database)")


def _split(cursor: str) -> tuple[bytes, bytes]:
    if not isinstance(cursor, str) or cursor.count(".") != 1 or len(cursor) > 4096:
        raise InvalidCursor("cursor is malformed")
    body, mac = cursor.split(".")
    try:
        return _unb64(body), _unb64(mac)
    except (ValueError, TypeError):
        raise InvalidCursor("cursor is malformed") from None
