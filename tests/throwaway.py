"""Private, disposable PostgreSQL and Redis servers for fault-injection tests.

Tests that stop, kill, freeze or restart a server must never do it to the shared services of the
machine (PostgreSQL on 127.0.0.1:5432, Redis on 127.0.0.1:6379): other suites and people use them.
These helpers start a server of their own on a free port of 127.0.0.1, with its files in a temporary
directory, and always tear it down. Logs go to a file so a failure can show what the server said.

PostgreSQL refuses to run as root, so when the tests run as root its programs run as the `postgres`
OS user. That is done with Popen's `user=`/`group=` (setuid in the child right before exec) rather
than `runuser`, and the postmaster is started directly rather than through `pg_ctl start`: runuser
stays as a watching parent and pg_ctl daemonizes, so either way the postmaster would not be our
child, and after a kill only pid 1 could reap it (a zombie's pid in postmaster.pid blocks the next
start). As our child it is signalled and reaped through its Popen; stop() sends the same signals as
`pg_ctl stop -m MODE` and start() waits for postmaster.pid to say "ready", as `pg_ctl -w` does.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import weakref
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.conftest import service_missing

PG_USER = "postgres"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
StopMode = Literal["smart", "fast", "immediate"]
# The postmaster's shutdown signals, the same ones `pg_ctl stop -m MODE` sends.
_STOP_SIGNALS: dict[str, signal.Signals] = {
    "smart": signal.SIGTERM,
    "fast": signal.SIGINT,
    "immediate": signal.SIGQUIT,
}


class ThrowawayUnavailable(RuntimeError):
    """The programs a throwaway server needs are not installed: the fixtures skip (or fail in CI)."""


def free_port() -> int:
    """A TCP port of 127.0.0.1 that is free right now (the kernel picks it, so no guessing)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_postgres_bin() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb and postgres (Debian's layout)."""
    root = Path("/usr/lib/postgresql")
    candidates = [
        d / "bin"
        for d in root.glob("*")
        if re.fullmatch(r"\d+(\.\d+)?", d.name) and (d / "bin" / "initdb").is_file()
        if (d / "bin" / "postgres").is_file()
    ]
    candidates.sort(key=lambda b: tuple(int(part) for part in b.parent.name.split(".")))
    return candidates[-1] if candidates else None


def _children(pid: int) -> list[int]:
    """Direct children of `pid`, from /proc (no pgrep needed).

    PostgreSQL's children each call setsid(), so a process-group signal would miss them.
    """
    found: list[int] = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:  # it exited while we were looking
            continue
        # The command name (field 2) may hold spaces and parentheses: parse after the last ')'.
        fields = stat[stat.rfind(b")") + 2 :].split()
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def _descendants(pid: int) -> list[int]:
    result: list[int] = []
    todo = [pid]
    while todo:
        kids = _children(todo.pop())
        result.extend(kids)
        todo.extend(kids)
    return result


def _alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (a zombie holds no resources any more)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2 :].split()[0] not in (b"Z", b"X")


def _signal_all(pids: list[int], sig: signal.Signals) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as error:
        return f"(no log: {error})"


def _server_env() -> dict[str, str]:
    """The environment without PG* variables, so a developer's PGDATA/PGPORT/PGOPTIONS cannot leak
    into the throwaway server or into psql and point them at the shared cluster."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")}


def _wait_gone(pids: list[int], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.02)


class _PostgresResources:
    """What must be released even if the owner is never closed (held apart so a weakref finalizer
    can release it without keeping the ThrowawayPostgres alive)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.proc: subprocess.Popen[bytes] | None = None

    def release(self) -> None:
        proc = self.proc
        if proc is not None and proc.poll() is None:
            pids = [proc.pid, *_descendants(proc.pid)]
            _signal_all(pids, signal.SIGKILL)
            proc.wait()
            _wait_gone(pids, 5)
        self.proc = None
        shutil.rmtree(self.root, ignore_errors=True)


class ThrowawayPostgres:
    """A private PostgreSQL cluster on a free port of 127.0.0.1 with trust authentication.

    The data directory lives in its own `tempfile.mkdtemp(prefix="tbt-pg-")` under /tmp, owned by
    the postgres user: pytest's tmp dirs (/tmp/pytest-of-root/, mode 0700) cannot be entered by it.
    `log_dir` (e.g. pytest's tmp_path) receives postgres.log; the file is opened by this process and
    handed to the server as stdout/stderr, so its owner and directory permissions do not matter.
    Durability is switched off (fsync, full_page_writes, synchronous_commit): a test cluster that
    would be lost with the machine is worth nothing anyway, and this keeps it fast. Beware in crash
    tests: with synchronous_commit=off, kill() may lose commits of the last ~200 ms (the WAL writer's
    delay). A test that asserts committed data survives a kill passes
    `settings={"synchronous_commit": "on"}` (cheap: with fsync off a commit is only a write()).
    """

    def __init__(
        self,
        log_dir: Path,
        *,
        port: int | None = None,
        bin_dir: Path | None = None,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        bin_dir = bin_dir or find_postgres_bin()
        if bin_dir is None or not (bin_dir / "initdb").is_file() or not (bin_dir / "postgres").is_file():
            raise ThrowawayUnavailable("PostgreSQL server programs (initdb, postgres) are not installed")
        # As root, the server programs run as PG_USER (setuid in the child); otherwise as ourselves.
        self._user: str | None = None
        if os.geteuid() == 0:
            try:
                pwd.getpwnam(PG_USER)
            except KeyError as error:
                raise ThrowawayUnavailable(f"running as root and there is no {PG_USER!r} user") from error
            self._user = PG_USER
        self.bin_dir = bin_dir
        self.port = port or free_port()
        self.settings = {
            "listen_addresses": "127.0.0.1",
            "shared_buffers": "16MB",
            "max_connections": "50",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "huge_pages": "off",
            **(settings or {}),
        }
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / "postgres.log"
        root = Path(tempfile.mkdtemp(prefix="tbt-pg-", dir="/tmp"))
        os.chmod(root, 0o755)
        if self._user:
            shutil.chown(root, self._user, self._user)
        self.data_dir = root / "data"
        self._res = _PostgresResources(root)
        self._finalizer = weakref.finalize(self, self._res.release)
        self._frozen = False

    def __repr__(self) -> str:
        return f"<ThrowawayPostgres port={self.port} data={self.data_dir} log={self.log_path}>"

    # ---- lifecycle

    @property
    def is_running(self) -> bool:
        """True while the postmaster process exists (also while frozen)."""
        proc = self._res.proc
        return proc is not None and proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The postmaster's pid while it runs."""
        return self._res.proc.pid if self.is_running and self._res.proc else None

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Initialise the cluster on first use, start the postmaster and wait until it is ready."""
        if self.is_running:
            raise RuntimeError(f"{self!r} is already running")
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        command = [
            str(self.bin_dir / "postgres"),
            "-D", str(self.data_dir),
            "-p", str(self.port),
            "-k", str(self.data_dir),
        ]  # fmt: skip
        for name, value in self.settings.items():
            command += ["-c", f"{name}={value}"]
        with open(self.log_path, "ab") as log:
            self._res.proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self._res.root,
                env=_server_env(),
                close_fds=True,
                start_new_session=True,
                user=self._user,
                group=self._user,
                extra_groups=[] if self._user else None,
            )
        self._frozen = False
        self._wait_ready(timeout)

    def _initdb(self) -> None:
        command = [
            str(self.bin_dir / "initdb"),
            "-D", str(self.data_dir),
            "-U", PG_USER,
            "-A", "trust",
            "-E", "UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        ]  # fmt: skip
        result = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            cwd=self._res.root,
            env=_server_env(),
            close_fds=True,
            timeout=60,
            check=False,
            user=self._user,
            group=self._user,
            extra_groups=[] if self._user else None,
        )
        with open(self.log_path, "ab") as log:
            log.write(result.stdout + result.stderr)
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed ({result.returncode}):\n{_tail(self.log_path)}")

    def _wait_ready(self, timeout: float) -> None:
        """Wait for "ready" in postmaster.pid, as `pg_ctl -w` does, without spawning a client per try.

        The pid on its first line must be our postmaster's: after a kill the old file still says
        "ready" until the new postmaster rewrites it.
        """
        proc = self._res.proc
        assert proc is not None
        pidfile = self.data_dir / "postmaster.pid"
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"postgres exited with {proc.returncode} while starting:\n{_tail(self.log_path)}"
                )
            try:
                lines = pidfile.read_text().splitlines()
            except OSError:
                lines = []
            if len(lines) >= 8 and lines[0].strip() == str(proc.pid) and lines[7].strip() == "ready":
                return
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"postgres was not ready in {timeout}s:\n{_tail(self.log_path)}")
            time.sleep(0.02)

    def stop(self, mode: StopMode = "fast", timeout: float = STOP_TIMEOUT) -> None:
        """Shut down like `pg_ctl stop -m MODE`; SIGKILL if it does not finish within `timeout`."""
        proc = self._res.proc
        if proc is None or proc.poll() is not None:
            return
        self.thaw()  # a stopped process would not act on the shutdown signal
        proc.send_signal(_STOP_SIGNALS[mode])
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def restart(self, mode: StopMode = "fast") -> None:
        """Stop (if running) and start again on the same port and data, so clients can reconnect."""
        self.stop(mode)
        self.start()

    def kill(self) -> None:
        """Crash the server: SIGKILL the postmaster and all its children at once.

        The children are killed too, since a backend that outlives its postmaster keeps the shared
        memory in use and the next start() would refuse to run. The postmaster is stopped first so
        it cannot fork while its children are listed.
        """
        proc = self._res.proc
        if proc is None or proc.poll() is not None:
            return
        os.kill(proc.pid, signal.SIGSTOP)
        children = _descendants(proc.pid)
        _signal_all([proc.pid, *children], signal.SIGKILL)
        proc.wait()
        _wait_gone(children, 5)
        self._frozen = False

    def freeze(self) -> None:
        """SIGSTOP the postmaster and every child: the port still accepts TCP connections (the kernel
        completes the handshake) but nothing answers, like a hung or partitioned server."""
        proc = self._res.proc
        if proc is None or proc.poll() is not None:
            raise RuntimeError(f"{self!r} is not running")
        os.kill(proc.pid, signal.SIGSTOP)  # first, so it forks no child we would miss
        _signal_all(_descendants(proc.pid), signal.SIGSTOP)
        self._frozen = True

    def thaw(self) -> None:
        """SIGCONT everything freeze() stopped (children first, so the postmaster finds them live)."""
        proc = self._res.proc
        if not self._frozen or proc is None or proc.poll() is not None:
            self._frozen = False
            return
        _signal_all(_descendants(proc.pid), signal.SIGCONT)
        os.kill(proc.pid, signal.SIGCONT)
        self._frozen = False

    def close(self) -> None:
        """Stop the cluster (killing it if need be) and delete its data directory. Idempotent."""
        try:
            if self.is_running:
                self.stop("immediate", timeout=5)
        finally:
            self._finalizer()

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ---- clients

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL of `database` on this cluster."""
        return f"postgresql+asyncpg://{PG_USER}@127.0.0.1:{self.port}/{database}"

    def dsn(self, database: str = "postgres") -> str:
        """libpq/asyncpg DSN of `database` on this cluster."""
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run SQL with psql and return its unaligned output.

        psql rather than asyncpg so it works from sync and async tests alike (asyncio.run cannot be
        nested in a running loop).
        """
        psql = self.bin_dir / "psql"
        command = [
            str(psql) if psql.is_file() else "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
            "-h", "127.0.0.1", "-p", str(self.port), "-U", PG_USER, "-d", database, "-c", sql,
        ]  # fmt: skip
        result = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=_server_env(),
            timeout=30,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"psql failed ({result.returncode}): {result.stderr.strip()}")
        return result.stdout

    def create_database(self, name: str) -> str:
        """Create database `name` and return its SQLAlchemy URL."""
        quoted = '"' + name.replace('"', '""') + '"'
        self.psql(f"CREATE DATABASE {quoted}")
        return self.url(name)

    def log_tail(self, lines: int = 40) -> str:
        return _tail(self.log_path, lines)


class ThrowawayRedis:
    """A private redis-server on a free port of 127.0.0.1, without persistence, run in the foreground
    (daemonize no) so the Popen handle is the server itself and can be signalled and reaped."""

    def __init__(self, work_dir: Path, *, port: int | None = None) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ThrowawayUnavailable("redis-server is not installed")
        self.binary = binary
        self.port = port or free_port()
        work_dir.mkdir(parents=True, exist_ok=True)
        self.work_dir = work_dir
        self.log_path = work_dir / "redis.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._frozen = False
        # Every server process started, shared with the finalizer (which must not hold self), so one
        # is killed even if close() is never called.
        self._procs: list[subprocess.Popen[bytes]] = []
        self._finalizer = weakref.finalize(self, ThrowawayRedis._reap, self._procs)

    def __repr__(self) -> str:
        return f"<ThrowawayRedis port={self.port} log={self.log_path}>"

    @staticmethod
    def _reap(procs: list[subprocess.Popen[bytes]]) -> None:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        procs.clear()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.is_running and self._proc else None

    def client(self, timeout: float = 1.0) -> redis.Redis:
        """A new synchronous client with short timeouts and no retries, for the helpers and sync tests.

        redis-py retries connection errors and timeouts 10 times with backoff by default, which
        would turn every probe of a stopped or frozen server into seconds of waiting.
        """
        return redis.Redis(
            host="127.0.0.1",
            port=self.port,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
        )

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start redis-server on `self.port` (the same port every time) and wait until it answers PING."""
        if self.is_running:
            raise RuntimeError(f"{self!r} is already running")
        command = [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--dir", str(self.work_dir),
            "--logfile", "",
        ]  # fmt: skip
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.work_dir,
                close_fds=True,
                start_new_session=True,
            )
        self._procs[:] = [p for p in self._procs if p.poll() is None]
        self._procs.append(self._proc)
        self._frozen = False
        deadline = time.monotonic() + timeout
        while True:
            if self._proc.poll() is not None:
                raise RuntimeError(
                    f"redis-server exited with {self._proc.returncode}:\n{_tail(self.log_path)}"
                )
            client = self.client(timeout=0.5)
            try:
                if client.ping():
                    return
            except redis.RedisError:
                pass
            finally:
                client.close()
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"redis-server did not answer in {timeout}s:\n{_tail(self.log_path)}")
            time.sleep(0.02)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM and wait (SIGKILL after `timeout`). Nothing is saved: persistence is off."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        self.thaw()
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL: the server vanishes without closing anything, as in a crash."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        proc.kill()
        proc.wait()
        self._frozen = False

    def restart(self) -> None:
        """Stop (if running) and start again on the same port, so existing clients can reconnect."""
        self.stop()
        self.start()

    def freeze(self) -> None:
        """SIGSTOP: connections are still accepted by the kernel but no command is answered."""
        if self._proc is None or not self.is_running:
            raise RuntimeError(f"{self!r} is not running")
        self._proc.send_signal(signal.SIGSTOP)
        self._frozen = True

    def thaw(self) -> None:
        if self._frozen and self._proc is not None and self.is_running:
            self._proc.send_signal(signal.SIGCONT)
        self._frozen = False

    def client_kill_all(self) -> int:
        """Close every normal client connection (this helper's own is skipped), like a server that
        drops idle connections; returns how many were closed."""
        client = self.client()
        try:
            return int(client.client_kill_filter(_type="normal", skipme=True))
        finally:
            client.close()

    def close(self) -> None:
        """Stop the server (killing it if need be). Idempotent."""
        try:
            self.stop(timeout=5)
        finally:
            self._finalizer()

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def log_tail(self, lines: int = 40) -> str:
        return _tail(self.log_path, lines)


# ---- pytest fixtures
# Registered for every test through `pytest_plugins` in tests/conftest.py.


@pytest.fixture(name="throwaway_postgres")
def throwaway_postgres_fixture(tmp_path: Path) -> Iterator[ThrowawayPostgres]:
    """A started private PostgreSQL cluster of this test alone, free to be stopped, killed or frozen."""
    try:
        pg = ThrowawayPostgres(tmp_path / "throwaway-postgres")
    except ThrowawayUnavailable as error:
        service_missing("A throwaway PostgreSQL", error)
        raise  # unreachable: service_missing fails or skips
    with pg:
        yield pg


@pytest.fixture(name="throwaway_redis")
def throwaway_redis_fixture(tmp_path: Path) -> Iterator[ThrowawayRedis]:
    """A started private redis-server of this test alone, free to be stopped, killed or frozen."""
    try:
        server = ThrowawayRedis(tmp_path / "throwaway-redis")
    except ThrowawayUnavailable as error:
        service_missing("A throwaway Redis", error)
        raise  # unreachable: service_missing fails or skips
    with server:
        yield server


__all__ = [
    "ThrowawayPostgres",
    "ThrowawayRedis",
    "ThrowawayUnavailable",
    "find_postgres_bin",
    "free_port",
    "throwaway_postgres_fixture",
    "throwaway_redis_fixture",
]
