"""Mostly waiting: each request sleeps 0.1 s in a blocking call, as a slow database would.

    python -m loadtests.advise --app examples.waiting:app --path /orders/42

Almost none of R is CPU: the advice should be many slots (threads or greenlets), not
many processes.
"""

import time

from flask import Flask

app = Flask(__name__)

#: Seconds each request waits (a query, an HTTP call to another service ...).
WAIT_S = 0.1


@app.get("/orders/<int:order_id>")
def order(order_id: int):
    time.sleep(WAIT_S)
    return {"order": order_id, "status": "shipped"}
