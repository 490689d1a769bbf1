"""A real PostgreSQL of the lab's own: a fresh cluster in a temporary folder, on loopback.

``initdb`` makes the cluster (trust authentication: only 127.0.0.1 and a private socket
folder reach it), ``postgres`` serves it on a free port with the ``max_connections`` the
caller chose, and the lab seeds a table for ``/db/rows``. Stopping sends SIGINT, which
is PostgreSQL's fast shutdown (what ``pg_ctl stop -m fast`` sends), reaps every backend
and removes the folder. The system's PostgreSQL service is never touched.

PostgreSQL refuses to run as root (``initdb: cannot be run as root``): as root, the lab
runs ``initdb`` and ``postgres`` as the ``postgres`` system user Debian's package creates
(``setpriv``, which execs: the postmaster is the lab's own child), and that user owns the
cluster folder. Otherwise they run as the lab's own user.
"""

from __future__ import annotations

import glob
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from ..servers import free_port
from .daemon import INSTALL, Daemon, Missing, ServiceError, as_user, give_to

INSTALL["postgres"] = ("install it with `sudo apt-get install postgresql` "
                       "(macOS: `brew install postgresql`)")
#: The database and the (non-superuser) role the lab's apps use, its seeded table of
#: ``ROWS`` rows, and the cluster's superuser (who keeps PostgreSQL's reserved slots).
DATABASE, USER, TABLE, ROWS, ADMIN = "lab", "lab", "items", 10_000, "postgres"
#: Durability off: a throwaway cluster, and a test's restart should take milliseconds.
FAST = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")


def bindir() -> Path:
    """Where ``initdb`` and ``postgres`` are: on Debian ``/usr/lib/postgresql/<major>/bin``
    (not on PATH), else PATH, else ``pg_config --bindir``."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    if on_path := shutil.which("postgres"):
        return Path(on_path).parent
    if pg_config := shutil.which("pg_config"):
        done = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        if done.returncode == 0 and (Path(done.stdout.strip()) / "postgres").exists():
            return Path(done.stdout.strip())
    raise Missing(f"postgres not found: {INSTALL['postgres']}")


class PostgresServer(Daemon):
    """A PostgreSQL cluster of its own; ``url`` is the ``DATABASE_URL`` of its ``lab`` db."""

    name = "postgres"
    ready_timeout = 30.0
    stop_signal = signal.SIGINT  # fast shutdown: roll back, disconnect, stop
    stop_grace = 10.0

    def __init__(self, *, max_connections: int = 20, port: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.bin = bindir()
        self.prefix = as_user("postgres", "postgres", "PostgreSQL refuses root")
        self.max_connections = max_connections
        self.port = port or free_port()
        self.folder: Path | None = None
        self.url = f"postgresql://{USER}@127.0.0.1:{self.port}/{DATABASE}"

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def sockets(self) -> Path:
        return self.folder / "sockets"

    def argv(self) -> list[str]:
        settings = [f"max_connections={self.max_connections}", "listen_addresses=127.0.0.1",
                    f"unix_socket_directories={self.sockets}", *FAST]
        return [*self.prefix, str(self.bin / "postgres"), "-D", str(self.data),
                "-p", str(self.port), *(arg for s in settings for arg in ("-c", s))]

    def start(self) -> None:
        """A fresh cluster, served and seeded; on any failure, everything stopped and removed."""
        try:
            self._initdb()
            super().start()
            self._seed()
        except BaseException:
            self.stop()
            raise

    def stop_server(self) -> None:
        """Stop the server (fast shutdown) and keep its cluster: the database went away."""
        Daemon.stop(self)

    def serve_again(self) -> None:
        """Serve the same cluster again, on the same port: the database came back."""
        Daemon.start(self)

    def _initdb(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="lab-postgres-"))
        self.sockets.mkdir()
        give_to(self.prefix, self.folder, self.sockets)
        done = subprocess.run(
            [*self.prefix, str(self.bin / "initdb"), "-D", str(self.data), "-U", ADMIN,
             "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"],
            capture_output=True, text=True, cwd="/")
        if done.returncode != 0:
            raise ServiceError(f"initdb failed ({done.returncode}): "
                               f"{(done.stderr or done.stdout).strip()[-2000:]}")

    def _connect(self, url: str, **options):
        """A psycopg connection to ``url`` (psycopg imported here, when a cluster is used:
        every command that names the lab's services would otherwise pay its import)."""
        import psycopg

        return psycopg.connect(url, **options)

    def admin_url(self) -> str:
        return f"postgresql://{ADMIN}@127.0.0.1:{self.port}/postgres"

    def is_ready(self) -> bool:
        """Our postmaster answers (not another server on the port: it names its folder)."""
        import psycopg

        try:
            with self._connect(self.admin_url(), connect_timeout=1) as conn:
                return conn.execute("SHOW data_directory").fetchone()[0] == str(self.data)
        except psycopg.Error:
            return False

    def _seed(self) -> None:
        with self._connect(self.admin_url(), autocommit=True) as conn:
            conn.execute(f"CREATE ROLE {USER} LOGIN")
            conn.execute(f"CREATE DATABASE {DATABASE} OWNER {USER}")
        with self._connect(self.url, autocommit=True) as conn:
            conn.execute(f"CREATE TABLE {TABLE} (id integer PRIMARY KEY, name text NOT NULL, "
                         "price numeric(10, 2) NOT NULL)")
            conn.execute(f"INSERT INTO {TABLE} SELECT i, 'item ' || i, (i % 1000) / 10.0 "
                         f"FROM generate_series(1, {ROWS}) AS i")

    def connections(self, user: str = USER) -> int:
        """Client backends of ``user`` connected now (the superuser's query not counted)."""
        with self._connect(self.admin_url(), connect_timeout=2) as conn:
            return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = %s "
                                "AND backend_type = 'client backend'", (user,)).fetchone()[0]

    def stop(self, grace: float | None = None) -> None:
        """Stop and reap the server, then remove its cluster folder."""
        super().stop(grace)
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


def main(argv: list[str] | None = None) -> int:
    """``python -m loadtests.services.postgres``: a lab cluster by hand, until Ctrl-C."""
    import argparse
    import time

    parser = argparse.ArgumentParser(prog="python -m loadtests.services.postgres",
                                     description="A PostgreSQL cluster of the lab's own (a "
                                     "temporary folder, 127.0.0.1), served until Ctrl-C, "
                                     "then stopped and removed.")
    parser.add_argument("--port", type=int, default=5433, help="port (default %(default)s)")
    parser.add_argument("--max-connections", type=int, default=100,
                        help="the cluster's max_connections (default %(default)s)")
    args = parser.parse_args(argv)
    try:
        server = PostgresServer(max_connections=args.max_connections, port=args.port)
    except Missing as missing:
        print(f"postgres: {missing}", file=sys.stderr)
        return 2
    with server:
        print(f"DATABASE_URL={server.url}", flush=True)
        while True:
            time.sleep(3600)  # serving until Ctrl-C or SIGTERM


if __name__ == "__main__":
    from ..harness.procs import run_main

    run_main(main)
