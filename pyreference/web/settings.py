"""What `pyreference serve` is configured with, and the bind-address safety rule."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from ..db import wait_seconds
from ..errors import InvalidInput
from ..inputs import ident

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
DB_TIMEOUT = 2.0  # seconds: the server's `connect_async(timeout=)`
_TOKEN = re.compile(r"[\x21-\x7e]+")


def is_loopback(host: str) -> bool:
    """True when `host` (a name or an address) can only be reached from this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Settings:
    """The server's configuration (never taken from a request).

    Args:
        dsn: the database (`postgresql://…` or `sqlite:///path`).
        owner: whose connections are served (R12); from configuration only.
        host: the bind address; loopback by default.
        port: the TCP port.
        token: the bearer token every request must send; required when `host` is
            not loopback, optional (but then enforced) on loopback.
        db_timeout: seconds a request waits for the database (a new connection's connect
            timeout, at least 2 s in libpq, and the wait for a pooled connection) before
            answering 503: the API fails fast when the database is down.

    Raises:
        InvalidInput: a non-loopback `host` without a token; an empty token, or one that
            is not printable ASCII without spaces; an owner that is not a valid id; a
            `db_timeout` that is not a positive number of seconds.
    """

    dsn: str
    owner: str = "owner_local"
    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None
    db_timeout: float = DB_TIMEOUT

    def __post_init__(self) -> None:
        ident(self.owner, "owner")
        wait_seconds(self.db_timeout)
        if self.token is not None and not self.token.strip():
            raise InvalidInput("the token must not be empty")
        if self.token is not None and not _TOKEN.fullmatch(self.token):
            # Clients send header bytes that servers read as Latin-1: any other character
            # (or a space) would make the token impossible to present.
            raise InvalidInput("the token must be printable ASCII without spaces")
        if not self.loopback and self.token is None:
            raise InvalidInput(
                f"binding to {self.host} exposes the API beyond this machine: "
                "set a token (--token or PYREFERENCE_TOKEN)"
            )

    @property
    def bind_host(self) -> str:
        """The address to bind (`[::1]` is given to the server as `::1`)."""
        return self.host.strip("[]")

    @property
    def url_host(self) -> str:
        """The host as a URL spells it (an IPv6 address in brackets)."""
        return f"[{self.bind_host}]" if ":" in self.bind_host else self.bind_host

    @property
    def loopback(self) -> bool:
        """True when the bind address is loopback (no token needed)."""
        return is_loopback(self.host)

    def allowed_hosts(self) -> list[str]:
        """Host headers accepted: on loopback only loopback names (no DNS rebinding)."""
        if self.loopback:
            return [*LOOPBACK_NAMES, "[::1]"]
        return ["*"]
