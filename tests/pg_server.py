"""A real PostgreSQL server for the test session, started from the system's binaries.

Registered as a pytest plugin by ``tests/conftest.py``. The server is initialised
into a temporary directory, listens on 127.0.0.1 at a free port (its socket in the
same directory), and is stopped and removed at the end of the session, also when
tests fail. As root (in CI) it runs as the ``postgres`` OS user, since initdb and
postgres refuse to run as root.

Fixtures:
- ``postgres_server`` (session): the running server, with its admin URL.
- ``postgres_url`` (function): the URL of a fresh, empty database for one test,
  dropped afterwards, so tests never see each other's events.
- ``postgres_database_factory`` (function): makes as many fresh databases as a test
  needs, each dropped afterwards.

Without server binaries the PostgreSQL tests fail with instructions; set
``WARMCASE_SKIP_POSTGRES=1`` to skip them instead.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

SKIP_VARIABLE = "WARMCASE_SKIP_POSTGRES"
BINDIR_VARIABLE = "WARMCASE_PG_BINDIR"
SERVER_OS_USER = "postgres"
"""Who runs the server when the tests run as root."""
SUPERUSER = "warmcase"
STARTUP_SECONDS = 60.0
PORT_ATTEMPTS = 3

_database_numbers = itertools.count(1)


@dataclass(frozen=True)
class PostgresServer:
    """A running server: where it listens and how to log in as its superuser."""

    host: str
    port: int
    socket_dir: Path
    user: str
    password: str
    data_dir: Path

    def url(self, dbname: str) -> str:
        """The TCP URL of database `dbname` on this server, with the superuser's login."""
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{dbname}"

    @property
    def admin_url(self) -> str:
        """The URL of the maintenance database ``postgres``."""
        return self.url("postgres")

    def connect(self, dbname: str = "postgres") -> psycopg.Connection[tuple[object, ...]]:
        """An autocommit connection as the superuser."""
        return psycopg.connect(self.url(dbname), autocommit=True, connect_timeout=10)


def find_bindir() -> Path | None:
    """The directory holding ``initdb`` and ``postgres``, newest version first."""
    candidates: list[Path] = []
    if os.environ.get(BINDIR_VARIABLE):
        candidates.append(Path(os.environ[BINDIR_VARIABLE]))
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            found = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=True
            )
            candidates.append(Path(found.stdout.strip()))

    def major(path: str) -> int:
        version = Path(path).parent.name
        return int(version) if version.isdigit() else 0

    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=major)[::-1]]
    candidates += [Path(p) for p in sorted(glob.glob("/usr/pgsql-*/bin"))[::-1]]
    on_path = shutil.which("postgres")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for directory in candidates:
        if (directory / "initdb").is_file() and (directory / "postgres").is_file():
            return directory
    return None


def _server_user() -> pwd.struct_passwd | None:
    """The unprivileged user to run as, or None to run as the current user."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVER_OS_USER)
    except KeyError:
        pytest.fail(
            f"the tests run as root, and PostgreSQL refuses to run as root, but there is no "
            f"{SERVER_OS_USER!r} OS user to run it as: install the postgresql package (which "
            f"creates it), run the tests as an ordinary user, or set {SKIP_VARIABLE}=1",
            pytrace=False,
        )


def _as_user(argv: list[str], user: pwd.struct_passwd | None) -> list[str]:
    """`argv` run as `user`; the server also stops if the test process dies."""
    setpriv = shutil.which("setpriv")
    if user is None:
        # Fast shutdown if pytest is killed, so no server outlives the session.
        return [setpriv, "--pdeathsig", "INT", "--", *argv] if setpriv else argv
    if setpriv:
        return [
            setpriv,
            f"--reuid={user.pw_uid}",
            f"--regid={user.pw_gid}",
            "--init-groups",
            "--pdeathsig",
            "INT",
            "--",
            *argv,
        ]
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", user.pw_name, "--", *argv]
    pytest.fail(
        "the tests run as root and need setpriv or runuser (util-linux) to start PostgreSQL "
        f"as {user.pw_name!r}; install util-linux or set {SKIP_VARIABLE}=1",
        pytrace=False,
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _log_tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


def _initdb(bindir: Path, root: Path, user: pwd.struct_passwd | None, password: str) -> Path:
    data_dir = root / "data"
    password_file = root / "password"
    password_file.write_text(password + "\n")
    if user is not None:
        for path in (root, password_file):
            os.chown(path, user.pw_uid, user.pw_gid)
    argv = [
        str(bindir / "initdb"),
        f"--pgdata={data_dir}",
        f"--username={SUPERUSER}",
        f"--pwfile={password_file}",
        # Passwords over TCP, so URLs with a password are exercised; trust on the socket.
        "--auth-host=scram-sha-256",
        "--auth-local=trust",
        "--encoding=UTF8",
        "--no-locale",
        "--no-sync",
    ]
    done = subprocess.run(
        _as_user(argv, user), cwd=root, capture_output=True, text=True, check=False
    )
    password_file.unlink()
    if done.returncode != 0:
        pytest.fail(
            f"initdb failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}",
            pytrace=False,
        )
    return data_dir


def _start(
    bindir: Path, root: Path, data_dir: Path, user: pwd.struct_passwd | None, password: str
) -> tuple[subprocess.Popen[bytes], PostgresServer]:
    socket_dir = root / "socket"
    socket_dir.mkdir(exist_ok=True)
    log = root / "server.log"
    if user is not None:
        os.chown(socket_dir, user.pw_uid, user.pw_gid)
    failures: list[str] = []
    for _ in range(PORT_ATTEMPTS):
        port = _free_port()
        argv = [
            str(bindir / "postgres"),
            "-D",
            str(data_dir),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-k",
            str(socket_dir),
            # A throwaway server: durability is SQLite's test subject, speed is this one's.
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "max_connections=300",
        ]
        with log.open("ab") as log_file:
            process = subprocess.Popen(
                _as_user(argv, user),
                cwd=root,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        server = PostgresServer(
            host="127.0.0.1",
            port=port,
            socket_dir=socket_dir,
            user=SUPERUSER,
            password=password,
            data_dir=data_dir,
        )
        deadline = time.monotonic() + STARTUP_SECONDS
        while process.poll() is None and time.monotonic() < deadline:
            try:
                server.connect().close()
            except psycopg.OperationalError:
                time.sleep(0.1)
            else:
                return process, server
        _stop(process)
        failures.append(f"port {port}:\n{_log_tail(log)}")
    pytest.fail(
        f"PostgreSQL did not start after {PORT_ATTEMPTS} attempts:\n" + "\n".join(failures),
        pytrace=False,
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Fast shutdown (SIGINT), then immediate (SIGQUIT), then SIGKILL."""
    for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGKILL):
        if process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=30)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server running for the whole session, removed at its end."""
    if os.environ.get(SKIP_VARIABLE) == "1":
        pytest.skip(f"{SKIP_VARIABLE}=1: PostgreSQL tests skipped on request")
    bindir = find_bindir()
    if bindir is None:
        pytest.fail(
            "PostgreSQL server binaries (initdb, postgres) were not found via "
            f"${BINDIR_VARIABLE}, `pg_config --bindir`, /usr/lib/postgresql/*/bin or PATH. "
            "Install them (Debian/Ubuntu: apt-get install -y postgresql) or set "
            f"{SKIP_VARIABLE}=1 to skip the PostgreSQL tests.",
            pytrace=False,
        )
    user = _server_user()
    root = Path(tempfile.mkdtemp(prefix="warmcase-pg-"))
    process: subprocess.Popen[bytes] | None = None
    try:
        password = secrets.token_urlsafe(16)
        data_dir = _initdb(bindir, root, user, password)
        process, server = _start(bindir, root, data_dir, user, password)
        yield server
    finally:
        if process is not None:
            _stop(process)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_database_factory(postgres_server: PostgresServer) -> Iterator[Callable[[], str]]:
    """Makes fresh, empty databases on the session's server (URLs); all dropped after the test."""
    made: list[str] = []

    def make() -> str:
        name = f"test_{os.getpid()}_{next(_database_numbers)}"
        with postgres_server.connect() as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        made.append(name)
        return postgres_server.url(name)

    try:
        yield make
    finally:
        with postgres_server.connect() as admin:
            for name in made:
                # FORCE ends connections an unclosed application may still hold.
                admin.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )


@pytest.fixture
def postgres_url(postgres_database_factory: Callable[[], str]) -> str:
    """The URL of a fresh, empty database on the session's server, dropped after the test."""
    return postgres_database_factory()
