"""A real nginx of the lab's own in front of a cell's gunicorn: the buffering reverse proxy.

The lab writes the whole configuration into a temporary folder -- pid file, logs and every
temp path there, a free loopback port -- and starts ``nginx -p FOLDER -c nginx.conf -e
error.log`` in the foreground (``daemon off``). It never reads or writes the system's
nginx configuration, logs or service. :data:`CONFIG` is the configuration, annotated in the
README ("Deploying").
"""

from __future__ import annotations

import getpass
import shutil
import socket
import tempfile
from pathlib import Path

from ..servers import free_port
from .daemon import Daemon, ServiceError, require

CONFIG = """\
daemon off;                      # the lab supervises it: a foreground process, no pid games
master_process on;
worker_processes 1;              # one event loop is plenty on loopback
user {user};                     # (only read when started as root)
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;

events {{ worker_connections 4096; }}

http {{
    access_log off;
    # every temp path inside the lab's folder: nothing under /var
    client_body_temp_path {folder}/client_body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
{limit_zone}
    # slow clients wait here, not in gunicorn: nginx reads the whole request header before
    # it connects upstream, and hangs up on a client that has not sent it within the timeout
    client_header_timeout {header_timeout}s;
    client_body_timeout {header_timeout}s;
    send_timeout 60s;

    upstream gunicorn {{
        server 127.0.0.1:{upstream};
        keepalive {keepalive};            # idle connections kept open to gunicorn, per worker
        keepalive_timeout 1s;    # and close them idle before gunicorn's KEEPALIVE (2 s) does
    }}

    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://gunicorn;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_request_buffering on;  # the whole body before gunicorn sees the request
            proxy_buffering on;          # the whole response, then nginx feeds the slow reader;
                                         # a response with X-Accel-Buffering: no streams through
            proxy_read_timeout {read_timeout};{late_page}
            {ignore_accel}{limit}
        }}{late}{shed}
    }}
}}
"""


#: nginx's own ``proxy_read_timeout`` default, which the lab keeps unless told otherwise.
DEFAULT_READ_TIMEOUT_S = 60


class NginxProxy(Daemon):
    """nginx on 127.0.0.1:``port`` proxying to gunicorn on 127.0.0.1:``upstream``."""

    name = "nginx"
    ready_timeout = 15.0
    stop_grace = 5.0  # SIGTERM: nginx's fast shutdown

    def __init__(self, upstream: int, *, port: int | None = None, header_timeout: int = 10,
                 accel_buffering: bool = True, limit_conn: int | None = None,
                 limit_req: tuple[int, int] | None = None,
                 read_timeout: float = DEFAULT_READ_TIMEOUT_S, keepalive: int = 32,
                 **kwargs):
        super().__init__(**kwargs)
        self.binary = require("nginx")
        self.upstream = upstream
        self.header_timeout = header_timeout
        #: False: nginx ignores the app's X-Accel-Buffering header, and buffers streams too
        self.accel_buffering = accel_buffering
        #: at most this many requests in progress through nginx; the next is answered 503
        #: JSON at once (``limit_conn``), None: no limit
        self.limit_conn = limit_conn
        #: (requests a second, burst): past the rate, up to ``burst`` requests wait in nginx
        #: (each let through at the rate), the next is answered 503 JSON at once
        #: (``limit_req``); None: no limit
        self.limit_req = limit_req
        #: seconds nginx waits for gunicorn's answer before answering 504 itself
        #: (``proxy_read_timeout``)
        self.read_timeout = read_timeout
        #: idle connections to gunicorn nginx keeps for reuse (``keepalive``, per nginx
        #: worker process); past them, a connection is closed once its answer is in
        self.keepalive = keepalive
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.folder = Path(tempfile.mkdtemp(prefix="lab-nginx-"))

    def config(self) -> str:
        return CONFIG.format(folder=self.folder, port=self.port, upstream=self.upstream,
                             user=getpass.getuser(), header_timeout=self.header_timeout,
                             ignore_accel="" if self.accel_buffering
                             else "proxy_ignore_headers X-Accel-Buffering;",
                             read_timeout=_duration(self.read_timeout),
                             keepalive=self.keepalive,
                             **_late(self.read_timeout),
                             **_limit(self.limit_conn, self.limit_req))

    def argv(self) -> list[str]:
        path = self.folder / "nginx.conf"
        path.write_text(self.config())
        return [self.binary, "-p", str(self.folder), "-c", str(path),
                "-e", str(self.folder / "error.log")]

    def start(self) -> None:
        if not self.place.netns and not _free(self.port):
            self._cleanup()
            raise ServiceError(f"nginx: cannot listen on 127.0.0.1:{self.port}: "
                               "address already in use")
        try:
            super().start()
        except BaseException:
            self._cleanup()
            raise

    def is_ready(self) -> bool:
        """Our nginx listens (its master wrote its own pid), and the port accepts."""
        return self.master_ready() and not _free(self.port)

    def master_ready(self) -> bool:
        """The pid file names our master: nginx has read its configuration and started."""
        try:
            pid = int((self.folder / "nginx.pid").read_text())
        except (FileNotFoundError, ValueError):
            return False
        return pid == self.proc.pid

    def log_text(self) -> str:
        error_log = self.folder / "error.log"
        own = error_log.read_text(errors="replace") if error_log.exists() else ""
        return super().log_text() + own

    def stop(self, grace: float | None = None) -> None:
        super().stop(grace)
        self._cleanup()

    def _cleanup(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


#: The limits' three parts: their zones, the limits in the proxied location, and the 503
#: they answer -- JSON, as the app's own are (nginx's own error page is HTML).
KEY = ("    # one count for the whole server (nginx counts no request whose key is empty)\n"
       "    map $host $lab_server { default lab; }\n")
CONN_ZONE = "    limit_conn_zone $lab_server zone=lab_conns:1m;\n"
REQ_ZONE = "    limit_req_zone $lab_server zone=lab_rate:1m rate={rate}r/s;\n"
CONN = """
            limit_conn lab_conns {n};  # the next request is shed at once
            limit_conn_status 503;"""
REQ = """
            limit_req zone=lab_rate burst={burst};  # past the rate, up to {burst} wait here
            limit_req_status 503;"""
SHED_PAGE = """
            error_page 503 = @shed;    # nginx's own 503s only: gunicorn's pass through"""
SHED = """
        location @shed {{
            default_type application/json;
            add_header Retry-After 1 always;
            return 503 '{{"status": 503, "error": "over nginx {what}: shed, retry later"}}';
        }}"""


def _limit(conn: int | None, req: tuple[int, int] | None) -> dict[str, str]:
    """The configuration's ``limit_zone``, ``limit`` and ``shed`` parts for ``limit_conn``
    ``conn`` and ``limit_req`` (rate, burst) ``req`` (each None: none)."""
    if conn is None and req is None:
        return {"limit_zone": "", "limit": "", "shed": ""}
    what = " and ".join([*([f"limit_conn {conn}"] if conn is not None else []),
                         *([f"limit_req {req[0]}r/s burst {req[1]}"] if req else [])])
    return {"limit_zone": KEY + (CONN_ZONE if conn is not None else "")
            + (REQ_ZONE.format(rate=req[0]) if req else ""),
            "limit": (CONN.format(n=conn) if conn is not None else "")
            + (REQ.format(burst=req[1]) if req else "") + SHED_PAGE,
            "shed": SHED.format(what=what)}


#: With a ``proxy_read_timeout`` of the lab's choosing (shorter than gunicorn's own worker
#: timeout), nginx's 504 is JSON, as its 503s are: the page, and where it points.
LATE_PAGE = """
            error_page 504 = @late;    # nginx's own 504 (gunicorn's answer too late): JSON"""
LATE = """
        location @late {
            default_type application/json;
            return 504 '{"status": 504, "error": "no answer in proxy_read_timeout"}';
        }"""


def _late(read_timeout: float) -> dict[str, str]:
    """The configuration's ``late_page`` and ``late`` parts: none at nginx's 60 s default,
    which gunicorn's worker timeout (30 s) comes before."""
    if read_timeout == DEFAULT_READ_TIMEOUT_S:
        return {"late_page": "", "late": ""}
    return {"late_page": LATE_PAGE, "late": LATE}


def _duration(seconds: float) -> str:
    """nginx's spelling of a time: whole seconds, else milliseconds.

    >>> _duration(60), _duration(0.9)
    ('60s', '900ms')
    """
    return f"{seconds:g}s" if seconds == int(seconds) else f"{round(seconds * 1000)}ms"


def _free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True

