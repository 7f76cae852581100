"""A real PgBouncer for tests: started on a free local port, as an unprivileged user.

The Debian package `pgbouncer` provides it (`.ci/run` installs it). Without it the
tests that need it skip with the reason, except when PYREFERENCE_REQUIRE_POSTGRES=1
(CI), where they fail.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.support.processes import free_port, stop

BINARIES = ("pgbouncer", "/usr/sbin/pgbouncer")
PASSWORD = "bouncer pw'9"  # a space and a quote: every DSN form must keep it hidden


@dataclass(frozen=True)
class Bouncer:
    host: str
    port: int
    user: str
    password: str
    workdir: Path | None = None  # pgbouncer.ini, its log and its stderr

    def url(self, dbname: str, password: str | None = None) -> str:
        from urllib.parse import quote

        secret = quote(self.password if password is None else password, safe="")
        return f"postgresql://{self.user}:{secret}@{self.host}:{self.port}/{dbname}"

    def log_tail(self, chars: int = 4000) -> str:
        """The end of PgBouncer's log (why it closed a client: `query_wait_timeout`, …),
        for an assertion's message."""
        if self.workdir is None:
            return ""
        log = (self.workdir / "pgbouncer.log").read_text(errors="replace")
        return f"pgbouncer.log (tail):\n{log[-chars:]}"


def binary() -> str | None:
    return next((b for b in map(shutil.which, BINARIES) if b), None)


def require_binary() -> str:
    found = binary()
    if found:
        return found
    message = "pgbouncer is not installed (apt-get install -y pgbouncer)"
    if os.environ.get("PYREFERENCE_REQUIRE_POSTGRES") == "1":
        pytest.fail(message)
    pytest.skip(message)


@contextmanager
def running(
    server_dsn: str,
    *,
    pool_mode: str = "transaction",
    pool_size: int = 3,
    query_wait_timeout: int | None = None,
) -> Iterator[Bouncer]:
    """PgBouncer in front of the server of `server_dsn` (any database name passes through).

    Clients authenticate to PgBouncer with md5 against its own user list; PgBouncer
    reaches the server as the DSN's user. Runs as `postgres` when the tests run as root.
    `query_wait_timeout`: seconds a client may wait for a server connection before
    PgBouncer closes it (None: PgBouncer's default, 120). Its log and stderr go to files
    (`Bouncer.log_tail()`): a pipe nobody reads would fill and stop PgBouncer mid-write.
    """
    exe = require_binary()
    server = urlsplit(server_dsn)
    user = server.username or "postgres"
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="pyref-pgbouncer-"))
    workdir.chmod(0o755)
    server_auth = f" password={server.password}" if server.password else ""
    (workdir / "users.txt").write_text(f'"{user}" "{PASSWORD.replace(chr(34), chr(34) * 2)}"\n')
    (workdir / "pgbouncer.ini").write_text(
        f"""[databases]
* = host={server.hostname or "127.0.0.1"} port={server.port or 5432} user={user}{server_auth}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = md5
auth_file = {workdir}/users.txt
pool_mode = {pool_mode}
default_pool_size = {pool_size}
max_client_conn = 200
logfile = {workdir}/pgbouncer.log
"""
        + (f"query_wait_timeout = {query_wait_timeout}\n" if query_wait_timeout else "")
    )
    (workdir / "pgbouncer.log").touch()
    stderr_path = workdir / "stderr.log"
    command = [exe, str(workdir / "pgbouncer.ini")]
    if os.geteuid() == 0:  # PgBouncer refuses to run as root
        shutil.chown(workdir, "postgres")
        for child in workdir.iterdir():
            shutil.chown(child, "postgres")
        command = ["runuser", "-u", "postgres", "--", *command]
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    err = stderr_path.read_text(errors="replace")
                    log = (workdir / "pgbouncer.log").read_text(errors="replace")
                    pytest.fail(f"pgbouncer did not start: {err}\n{log[-2000:]}")
                time.sleep(0.05)
        yield Bouncer("127.0.0.1", port, user, PASSWORD, workdir)
    finally:
        stop(process)
        shutil.rmtree(workdir, ignore_errors=True)
