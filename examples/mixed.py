"""Mixed: each request waits 80 ms (blocking I/O), then computes for about 20 ms.

    python -m loadtests.advise --app examples.mixed:app --path /report

A fifth of R is CPU: on 2 cores, about 2 × R ÷ S_cpu = 10 requests in progress keep both
cores busy. The advice should be a few processes with a few threads each: more slots
than sync workers give, no more processes than cores.
"""

import time

from flask import Flask

from .cpu import score

app = Flask(__name__)

WAIT_S = 0.08
#: About 20 ms of pure-Python CPU on the machine of examples/cpu.py.
ITERATIONS = 160_000


@app.get("/report")
def report():
    time.sleep(WAIT_S)
    return {"report": score(ITERATIONS)}
