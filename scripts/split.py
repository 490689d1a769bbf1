"""How two workers of one server split four keep-alive connections opened at once.

    python scripts/split.py uvicorn-worker --runs 10 [--reuse-port]
    python scripts/split.py granian --runs 10

Each run starts a fresh server with two workers (the ASGI twin), opens four connections
at the same moment (a barrier), sends one ``/prime`` on each, and counts with psutil the
established connections each worker holds. The servers lesson's page quotes its counts.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import sys
import threading
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from loadtests.servers import SERVERS, ServerSpec, launch
from webapp.work.primes import SHORT_PRIME

CONNECTIONS = 4


def held(pid: int, port: int) -> int:
    return sum(1 for c in psutil.Process(pid).net_connections("tcp")
               if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port)


def one_run(spec: ServerSpec) -> tuple[int, ...]:
    with launch(spec) as server:
        barrier, opened = threading.Barrier(CONNECTIONS), []

        def user():
            barrier.wait()
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            connection.request("GET", f"/prime/{SHORT_PRIME}")
            connection.getresponse().read()
            opened.append(connection)

        users = [threading.Thread(target=user) for _ in range(CONNECTIONS)]
        for thread in users:
            thread.start()
        for thread in users:
            thread.join()
        split = tuple(sorted((held(pid, server.port) for pid in server.worker_pids()),
                             reverse=True))
        for connection in opened:
            connection.close()
        return split


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("server", choices=[name for name in SERVERS if name != "waitress"])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--reuse-port", action="store_true",
                        help="gunicorn's reuse_port (gunicorn and uvicorn-worker only)")
    args = parser.parse_args()
    model = "gevent" if args.server == "gunicorn" else "asgi"
    spec = ServerSpec(model, workers=2, server=args.server,
                      env=(("REUSE_PORT", "1"),) if args.reuse_port else ())
    splits = collections.Counter(one_run(spec) for _ in range(args.runs))
    print(f"{spec.label}{' reuse_port' if args.reuse_port else ''}: "
          + ", ".join(f"{'-'.join(map(str, k))} in {n}" for k, n in splits.most_common()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
