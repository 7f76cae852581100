"""A throwaway PostgreSQL primary with streaming replicas, for tests, the bench and trying replicas.

`ReplicaCluster` runs Debian's (or any) PostgreSQL binaries: `initdb` a primary, start it on a
free port, then `pg_basebackup -R` each replica from it (a hot standby streaming from the
primary) and start it on its own free port. Everything lives in one temporary directory that
`stop()` removes. As root the servers run as the unprivileged `postgres` user
(`runuser -u postgres`), since PostgreSQL refuses to run as root.

Nothing here is used by the library at run time.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .errors import DatabaseUnavailable


def postgres_bindir() -> Path | None:
    """The newest `/usr/lib/postgresql/<version>/bin` with `initdb`, else `pg_config --bindir`."""

    def version(initdb: str) -> int:
        name = Path(initdb).parent.parent.name
        return int(name) if name.isdigit() else 0

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version)
    if found:
        return Path(found[-1]).parent
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        bindir = Path(out.stdout.strip())
        if (bindir / "initdb").exists():
            return bindir
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """One server of the cluster: its data directory and port."""

    name: str
    datadir: Path
    port: int
    running: bool = False

    def dsn(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"


@dataclass
class ReplicaCluster:
    """A primary and `replicas` streaming hot standbys on free ports under one temp directory.

    Args:
        replicas: how many standbys to clone from the primary.
        bindir: PostgreSQL's bin directory (default: `postgres_bindir()`).
        settings: extra `postgresql.conf` lines for every server.

    Raises:
        DatabaseUnavailable: no PostgreSQL binaries, or a server did not start (the message
            ends with the tail of its log).
    """

    replicas: int = 1
    bindir: Path | None = None
    settings: tuple[str, ...] = ()
    root: Path = field(init=False)
    primary: Server = field(init=False)
    standbys: list[Server] = field(init=False, default_factory=list)

    def start(self) -> ReplicaCluster:
        """initdb + start the primary, then pg_basebackup -R + start each replica (~3 s each)."""
        self.bindir = self.bindir or postgres_bindir()
        if self.bindir is None:
            raise DatabaseUnavailable("no PostgreSQL binaries (initdb) found on this machine")
        self.root = Path(tempfile.mkdtemp(prefix="pyref_cluster_"))
        self.root.chmod(0o700)
        self._chown(self.root)
        try:
            self.primary = Server("primary", self.root / "primary", free_port())
            self._run("initdb", "-D", str(self.primary.datadir), "-U", "postgres",
                      "--auth=trust", "-E", "UTF8", "--no-sync")  # fmt: skip
            self._configure(self.primary)
            self.start_server(self.primary)
            for i in range(self.replicas):
                standby = Server(f"replica{i + 1}", self.root / f"replica{i + 1}", free_port())
                self._run("pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary.port),
                          "-U", "postgres", "-D", str(standby.datadir), "-R", "-X", "stream",
                          "-c", "fast", "--no-sync")  # fmt: skip
                self._configure(standby)
                self.start_server(standby)
                self.standbys.append(standby)
        except BaseException:
            self.stop()
            raise
        return self

    def __enter__(self) -> ReplicaCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- servers -------------------------------------------------------------------
    def start_server(self, server: Server) -> None:
        """Start a stopped server (waits until it accepts connections)."""
        log = self.root / f"{server.name}.log"
        try:
            self._run("pg_ctl", "-D", str(server.datadir), "-l", str(log), "-w", "-t", "60",
                      "start")  # fmt: skip
        except DatabaseUnavailable as exc:
            tail = log.read_text(errors="replace")[-800:] if log.exists() else ""
            raise DatabaseUnavailable(f"{server.name} did not start: {exc}\n{tail}") from None
        server.running = True

    def stop_server(self, server: Server, mode: str = "fast") -> None:
        """Stop one server (`mode`: smart, fast or immediate)."""
        if server.running:
            self._run("pg_ctl", "-D", str(server.datadir), "-m", mode, "-w", "stop")
            server.running = False

    def stop(self) -> None:
        """Stop every server and delete the directory."""
        for server in [*self.standbys, getattr(self, "primary", None)]:
            if server is not None and server.running:
                with contextlib.suppress(DatabaseUnavailable):
                    self.stop_server(server, "immediate")
        if getattr(self, "root", None) is not None:
            shutil.rmtree(self.root, ignore_errors=True)

    def wait_replayed(self, timeout: float = 30.0) -> None:
        """Wait until every running replica has replayed the primary's current WAL."""
        import psycopg

        with psycopg.connect(self.primary.dsn(), autocommit=True) as conn:
            row = conn.execute("SELECT pg_current_wal_insert_lsn()").fetchone()
            assert row is not None
            target = row[0]
        deadline = time.monotonic() + timeout
        for standby in self.standbys:
            if not standby.running:
                continue
            with psycopg.connect(standby.dsn(), autocommit=True) as conn:
                while True:
                    row = conn.execute(
                        "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,)
                    ).fetchone()
                    if row is not None and row[0]:
                        break
                    if time.monotonic() > deadline:
                        raise DatabaseUnavailable(f"{standby.name} did not catch up in {timeout}s")
                    time.sleep(0.01)

    # -- helpers ---------------------------------------------------------------------
    def _configure(self, server: Server) -> None:
        lines = [
            f"port = {server.port}",
            "listen_addresses = '127.0.0.1'",
            f"unix_socket_directories = '{self.root}'",
            "fsync = off",
            "max_connections = 60",
            "shared_buffers = 32MB",
            "hot_standby = on",
            "max_wal_senders = 10",
            "wal_level = replica",
            *self.settings,
        ]
        conf = server.datadir / "postgresql.conf"
        with conf.open("a") as f:
            f.write("\n# pyreference devcluster\n" + "\n".join(lines) + "\n")

    def _as_postgres(self) -> list[str]:
        return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _chown(self, path: Path) -> None:
        if os.geteuid() == 0:
            shutil.chown(path, "postgres", "postgres")

    def _run(self, tool: str, *args: str) -> None:
        assert self.bindir is not None
        cmd = [*self._as_postgres(), str(self.bindir / tool), *args]
        done = subprocess.run(
            cmd, capture_output=True, text=True, check=False, cwd=self.root, timeout=120
        )
        if done.returncode != 0:
            raise DatabaseUnavailable(f"{tool} failed: {(done.stderr or done.stdout)[-800:]}")
