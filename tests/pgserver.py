"""A throwaway PostgreSQL server for the tests and benchmarks: initdb in a temporary
directory, a server on a free loopback port (and a private socket directory), stopped and
deleted at the end. Nothing else on the machine is touched.

Why not pytest-postgresql's process fixture: initdb and postgres refuse to run as root, and
these tests run as root; it has no way to start them as another user. Here they run as the
``postgres`` system user (Debian's package creates it) when we are root.

The superuser connects by password over TCP (scram), so the tests can check a refused
password; the socket directory trusts local connections, for the fixture's own setup.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

USER = "cronpy"
PASSWORD = "cronpy-test-password"
REQUIRE_ENV = "CRONPY_REQUIRE_POSTGRES"  # set (.ci/run): no server is a failure, not a skip


def find_bindir() -> Path | None:
    """The newest PostgreSQL server's binaries: $PG_BINDIR, Debian's layout, or $PATH."""
    candidates = [os.environ.get("PG_BINDIR", "")]
    candidates += sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True
    )
    found = shutil.which("initdb")
    candidates += [str(Path(found).parent)] if found else []
    for c in candidates:
        if c and (Path(c) / "initdb").exists() and (Path(c) / "pg_ctl").exists():
            return Path(c)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgServer:
    bindir: Path
    root: Path
    port: int = 0
    durable: bool = False  # fsync and synchronous commits on, as in production (benchmarks)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def sockets(self) -> Path:
        return self.root / "sockets"

    def url(self, dbname: str = "postgres", *, password: str = PASSWORD) -> str:
        return f"postgresql://{USER}:{password}@127.0.0.1:{self.port}/{dbname}"

    def _run(self, *argv: str) -> None:
        # as root: drop to the postgres user, which owns the directory
        as_user = {"user": "postgres", "group": "postgres"} if os.geteuid() == 0 else {}
        done = subprocess.run(
            [str(self.bindir / argv[0]), *argv[1:]],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
            cwd=self.root,
            **as_user,  # type: ignore[arg-type]
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed:\n{done.stdout}{done.stderr}")

    def start(self) -> None:
        self.sockets.mkdir()
        pwfile = self.root / "pw"
        pwfile.write_text(PASSWORD + "\n")
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            for p in (self.root, self.sockets, pwfile):
                os.chown(p, owner.pw_uid, owner.pw_gid)
        self._run(
            "initdb", "-D", str(self.data), "-U", USER, f"--pwfile={pwfile}",
            "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--no-sync",
            "--locale=C.UTF-8",
        )  # fmt: skip
        pwfile.unlink()
        self.port = _free_port()
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port}"
            f" -c unix_socket_directories={self.sockets} -c max_connections=100"
        )
        if not self.durable:  # a test server, thrown away at the end: no need to fsync
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._options = options
        self.resume()

    def resume(self) -> None:
        """Start the server on its data and port (again, after ``halt``)."""
        log = self.root / "server.log"
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", self._options, "-l", str(log), "-w", "start"
        )  # fmt: skip

    def halt(self, mode: str = "immediate") -> None:
        """Stop the server, by default at once as a crash would (this test server does not
        fsync: committed data may be lost, as on a crash without durable storage), keeping
        its data for ``resume``; ``fast`` keeps what was committed."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def fresh_url(self) -> str:
        """The URL of a fresh, empty schema of its own (through search_path): as good as a new
        database for the store, and ~1 ms instead of CREATE DATABASE's ~270 ms checkpoint."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as admin:
            admin.execute(f'CREATE SCHEMA "{name}"')
        return f"{self.url()}?options=-csearch_path%3D{name}"

    def drop(self, url: str) -> None:
        """Drop what fresh_url created."""
        import psycopg

        name = url.rsplit("%3D", 1)[1]
        with psycopg.connect(self.url(), autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def unavailable() -> str | None:
    """Why no test server can start here, or None."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install -e '.[test]')"
    if find_bindir() is None:
        return "no PostgreSQL server binaries (apt-get install postgresql, or set PG_BINDIR)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' user to run the server as"
    return None


@contextlib.contextmanager
def pg_server(*, durable: bool = False) -> Iterator[PgServer]:
    bindir = find_bindir()
    assert bindir is not None
    server = PgServer(bindir, Path(tempfile.mkdtemp(prefix="cronpy-pg-")), durable=durable)
    try:
        server.start()
        yield server
    finally:
        server.stop()
