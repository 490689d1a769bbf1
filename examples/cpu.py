"""Mostly CPU: each request runs about 50 ms of pure-Python arithmetic (the GIL held).

    python -m loadtests.advise --app examples.cpu:app --path /score

A plain WSGI callable, no framework: any WSGI app can be advised. Almost all of R is
CPU: the advice should be one process per core; threads and greenlets cannot help.
"""

import json

#: Loop iterations per request: about 50 ms on a 2-vCPU AMD EPYC VM (Python 3.11).
ITERATIONS = 400_000


def score(iterations: int = ITERATIONS) -> int:
    total = 0
    for i in range(iterations):
        total += i * i % 7
    return total


def app(environ, start_response):
    if environ["PATH_INFO"] != "/score":
        start_response("404 Not Found", [("Content-Type", "application/json")])
        return [b'{"error": "not found"}']
    body = json.dumps({"score": score()}).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]
