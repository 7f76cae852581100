"""What `pyreference serve` is configured with, and the bind-address safety rule."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ..errors import InvalidInput

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


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

    Raises:
        InvalidInput: a non-loopback `host` without a token, or an empty token.
    """

    dsn: str
    owner: str = "owner_local"
    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None

    def __post_init__(self) -> None:
        if self.token is not None and not self.token.strip():
            raise InvalidInput("the token must not be empty")
        if not self.loopback and self.token is None:
            raise InvalidInput(
                f"binding to {self.host} exposes the API beyond this machine: "
                "set a token (--token or PYREFERENCE_TOKEN)"
            )

    @property
    def loopback(self) -> bool:
        """True when the bind address is loopback (no token needed)."""
        return is_loopback(self.host)

    def allowed_hosts(self) -> list[str]:
        """Host headers accepted: on loopback only loopback names (no DNS rebinding)."""
        if self.loopback:
            return [*LOOPBACK_NAMES, "[::1]"]
        return ["*"]
