"""nginx on a host of its own, balancing web hosts: the load balancer of a deployment.

The lifecycle is :class:`.nginx.NginxProxy`'s (a folder of its own, the foreground master,
every path stopped and removed); only the configuration differs, :data:`CONFIG`, annotated
where the hosts lesson explains what users see when a web host is drained or cut off.
"""

from __future__ import annotations

import getpass

from .daemon import accepts
from .nginx import NginxProxy

#: What each request was, one line each: status, the upstreams tried (", " between
#: attempts: a retry), their statuses, the time nginx took.
LOG_FORMAT = "$msec $status [$upstream_addr] [$upstream_status] $request_time"

CONFIG = """\
daemon off;
master_process on;
worker_processes 1;
user {user};
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;

events {{ worker_connections 4096; }}

http {{
    log_format lab '{log_format}';
    access_log {folder}/access.log lab;
    client_body_temp_path {folder}/client_body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;

    upstream web {{
        # one failed attempt marks a host down for fail_timeout; then one request tries it
{servers}
        keepalive 16;
        # idle connections closed before gunicorn's KEEPALIVE (2 s) closes them: a request
        # nginx sent on one just as gunicorn closed it failed ("upstream prematurely closed
        # connection") and marked a healthy host down for fail_timeout (a cut then found no
        # live upstream: 5817 of 6322 GETs 502 in one run of test_hosts.py)
        keepalive_timeout 1s;
    }}

    server {{
        listen {address}:{port};
        location / {{
            proxy_pass http://web;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            # a connection refused (a drained host) or not answered in 1 s (a cut one), or a
            # request not answered in {read_timeout} s: the next host. GETs only -- nginx
            # never retries a POST unless told "non_idempotent".
            proxy_next_upstream error timeout;
            proxy_next_upstream_tries 2;
            proxy_connect_timeout 1s;
            proxy_read_timeout {read_timeout}s;
        }}
    }}
}}
"""


class NginxBalancer(NginxProxy):
    """nginx on its place's address, round-robin over ``upstreams`` (address:port each)."""

    def __init__(self, upstreams: list[str], *, port: int = 80, max_fails: int = 1,
                 fail_timeout: float = 10, read_timeout: float = 3, **kwargs):
        super().__init__(0, port=port, **kwargs)
        self.upstreams = upstreams
        self.max_fails, self.fail_timeout, self.read_timeout = max_fails, fail_timeout, read_timeout
        self.url = f"http://{self.place.address}:{self.port}"

    def config(self) -> str:
        servers = "\n".join(f"        server {upstream} max_fails={self.max_fails} "
                            f"fail_timeout={self.fail_timeout:g}s;"
                            for upstream in self.upstreams)
        return CONFIG.format(folder=self.folder, port=self.port, address=self.place.address,
                             user=getpass.getuser(),
                             servers=servers, read_timeout=f"{self.read_timeout:g}",
                             log_format=LOG_FORMAT)

    def is_ready(self) -> bool:
        """Our master started, and its host's address accepts on the port."""
        return self.master_ready() and accepts(self.place.address, self.port)

    def stop(self, grace: float | None = None) -> None:
        """Stop it; its access and error logs are kept beside its own log (when it has one
        of its caller's) before the folder goes."""
        if not self._own_log:
            for name in ("access.log", "error.log"):
                if (self.folder / name).exists():
                    (self.folder / name).replace(self.log_path.with_name(f"nginx-{name}"))
        super().stop(grace)

    def access_lines(self) -> list[str]:
        return self._lines("access.log")

    def error_lines(self) -> list[str]:
        return self._lines("error.log")

    def _lines(self, name: str) -> list[str]:
        path = self.folder / name
        return path.read_text(errors="replace").splitlines() if path.exists() else []
