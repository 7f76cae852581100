"""Connection strings and connection failures, described without secrets.

Pure functions (no I/O): `describe_dsn` names where a DSN points (user, host, port,
database) and `failure_reason` turns a driver's connection error into one short,
readable reason (refused, unknown host, authentication failed, database does not
exist, bad option, …). Neither ever includes a password: a description is built
from the safe fields only, never by deleting the secret from the text, so every DSN
form (URL, `?password=` query, keyword form with quoted values holding spaces or
quotes, `sslpassword`) is covered the same way; driver text is shown only after the
parsed password is scrubbed from it, and not at all when the DSN cannot be parsed.
"""

from __future__ import annotations

import re
from typing import Any

# Fields that say where a connection goes; everything else (password, sslpassword,
# passfile, options, …) stays out of messages.
_WHERE = ("user", "host", "hostaddr", "port", "dbname")
_URL_SECRET = re.compile(r"(\w+://[^:/@\s]*):[^@\s]*@")
MALFORMED = "a malformed connection string (not shown: it may hold a secret)"


def parse_dsn(dsn: str) -> dict[str, str] | None:
    """The DSN's parameters as libpq reads them (URL or keyword form); None if malformed."""
    from psycopg import conninfo

    try:
        return {k: str(v) for k, v in conninfo.conninfo_to_dict(dsn).items()}
    except Exception:
        return None


def describe_dsn(dsn: str) -> str:
    """Where `dsn` points, as `postgresql://user@host:port/dbname` with no password.

    Args:
        dsn: a libpq connection string, URL (`postgresql://…`) or keyword form.

    Returns:
        a description built from user, host, port and database only. When libpq
        cannot parse the DSN: a URL shows only what follows its user info, without
        its query; any other text is not shown at all (`MALFORMED`).
    """
    params = parse_dsn(dsn)
    if params is not None:
        return describe_params(params)
    scheme, sep, rest = dsn.partition("://")
    if not sep or not scheme.isidentifier():
        return MALFORMED
    # A malformed URL: what follows the last "@" (user info, password included, ends
    # there), without the query (which may hold a password too).
    where = rest.rpartition("@")[2].partition("?")[0]
    return f"{scheme}://{where} (malformed)"


def describe_params(params: dict[str, Any]) -> str:
    """`postgresql://user@host:port/dbname` from connection parameters (password ignored)."""
    where = {k: str(params[k]) for k in _WHERE if params.get(k)}
    user = f"{where['user']}@" if "user" in where else ""
    host = where.get("host") or where.get("hostaddr") or "localhost"
    port = f":{where['port']}" if "port" in where else ""
    return f"postgresql://{user}{host}{port}/{where.get('dbname', '')}"


def secrets_of(dsn: str | None) -> list[str]:
    """The secret values a DSN carries (to scrub from driver text)."""
    params = parse_dsn(dsn) if dsn else None
    if not params:
        return []
    return [v for k, v in params.items() if k in ("password", "sslpassword") and v]


def scrub(text: str, secrets: list[str]) -> str:
    """`text` with every known secret and any URL password replaced by `***`."""
    for secret in secrets:
        text = text.replace(secret, "***")
    return _URL_SECRET.sub(r"\1:***@", text)


# (pattern in libpq's message, reason shown). First match wins.
_REASONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), reason)
    for pattern, reason in (
        (r"connection refused", "connection refused (is the server running and accepting TCP/IP?)"),
        (
            r"could not translate host name|failed to resolve host|name or service not known",
            "unknown host",
        ),
        (r"timeout expired|timed out", "timed out"),
        (r"database \"(?P<db>[^\"]*)\" does not exist", 'database "{db}" does not exist'),
        (
            r"role \"(?P<role>[^\"]*)\" does not exist",
            'authentication failed: role "{role}" does not exist',
        ),
        (
            r"password authentication failed for user \"(?P<user>[^\"]*)\"",
            'authentication failed for user "{user}"',
        ),
        (
            r"no password supplied|authentication failed|pg_hba\.conf rejects",
            "authentication failed",
        ),
        (r"too many (connections|clients)|no more connections", "too many connections"),
        (r"the database system is (starting up|shutting down|in recovery mode)", "{0}"),
        (
            r"terminating connection|server closed the connection|connection (is )?lost"
            r"|consuming input failed|connection is closed|ssl syscall|eof detected",
            "the server closed the connection",
        ),
        (
            r"percent-encoded|unterminated quoted|missing \"=\"|invalid URI|is not a valid URI",
            "malformed connection string",
        ),
        (r"invalid (?P<what>[\w ]+ value|connection option|port number)[^\n]*", "bad option: {0}"),
        (r"sslmode value \"\w+\" invalid when SSL support is not compiled in", "bad option: {0}"),
        (r"server does not support SSL", "the server does not support SSL (sslmode)"),
    )
)


def failure_reason(message: str, dsn: str | None = None) -> str:
    """One short line saying why a connection failed or broke.

    Args:
        message: the driver's error text (libpq's, possibly several lines).
        dsn: the DSN used, so that its password is scrubbed from any text shown;
            driver text is never shown when the DSN is given and cannot be parsed.

    Returns:
        a known reason ("connection refused …", "unknown host", 'database "x" does
        not exist', 'authentication failed for user "u"', "bad option: …", "timed out",
        "the server closed the connection", …), else libpq's last line, scrubbed.
    """
    text = " ".join(message.split())
    for pattern, reason in _REASONS:
        match = pattern.search(text)
        if match:
            return scrub(reason.format(match.group(0), **match.groupdict()), secrets_of(dsn))
    if dsn is not None and parse_dsn(dsn) is None:
        return "malformed connection string"
    # libpq's "connection to server at …, port … failed: FATAL:  why" → "why"
    last = re.split(r"failed:\s*|FATAL:\s*|ERROR:\s*", text)[-1].strip() or "unknown error"
    return scrub(last[:200], secrets_of(dsn))
