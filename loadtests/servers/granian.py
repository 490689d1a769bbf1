"""granian: Rust I/O threads, Python workers as processes, the WSGI or the ASGI twin.

* ``--interface asgi``: one asyncio loop per worker process, as uvicorn. Its limit is
  ``--backpressure``, "requests to process concurrently (per worker)", by default
  backlog ÷ workers (1024 ÷ workers, granian 2.8.9's server/common.py): the lab's slots.
* ``--interface wsgi``: each request runs on one of the worker's ``--blocking-threads``
  (default backpressure ÷ 2, about 512 for one worker; the lab always passes the spec's
  threads): a thread pool under the GIL, gthread's model with granian's I/O in front.
* Its default interface is rsgi: the lab always passes one. It logs "Listening at" before
  the app has loaded (readiness is polled over HTTP). SIGTERM and SIGINT both drain, and
  wait forever for a busy worker unless ``--workers-kill-timeout`` is set: the lab sets it
  to the spec's timeout.
"""

from __future__ import annotations

from .base import LOOPBACK, Server
from .spec import ServerSpec

APPS = {"asgi": "webapp.asgi:app", "wsgi": "webapp.wsgi:app"}
#: granian's default backlog; its default backpressure per worker is this ÷ workers.
BACKLOG = 1024


class GranianServer(Server):
    name = "granian"
    quick_signal = None  # SIGINT and SIGTERM both drain

    @classmethod
    def model(cls, spec: ServerSpec) -> str:
        return {"asgi": "asgi", "wsgi": "gthread"}[_interface(spec)]

    @classmethod
    def slots(cls, spec: ServerSpec) -> float:
        if _interface(spec) == "wsgi":
            return spec.workers * spec.threads
        return spec.workers * max(1, BACKLOG // spec.workers)

    @classmethod
    def label(cls, spec: ServerSpec) -> str:
        text = f"granian {spec.worker_class} -w{spec.workers}"
        return text + (f" --blocking-threads {spec.threads}" if spec.worker_class == "wsgi"
                       else "")

    @classmethod
    def argv(cls, spec: ServerSpec, port: int, host: str = LOOPBACK) -> list[str]:
        command = [spec.interpreter, "-m", "granian", "--interface", _interface(spec),
                   "--host", host, "--port", str(port), "--workers", str(spec.workers),
                   "--workers-kill-timeout", str(spec.timeout), "--no-access-log"]
        if spec.worker_class == "wsgi":
            command += ["--blocking-threads", str(spec.threads)]
        if spec.chdir:
            command += ["--working-dir", spec.chdir]
        return [*command, spec.app or APPS[spec.worker_class]]


def _interface(spec: ServerSpec) -> str:
    if spec.worker_class not in APPS:
        raise ValueError(f"granian serves the lab's twins as asgi or wsgi, not "
                         f"{spec.worker_class!r}")
    return spec.worker_class
