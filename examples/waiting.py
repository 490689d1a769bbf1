"""Mostly waiting: each request sleeps 0.1 s in a blocking call, as a slow database would.

    python -m loadtests.advise --app examples.waiting:app --path /orders/42

``POST /orders`` creates an order from a JSON body with an ``item``, for a caller with an
``Authorization`` header (401 without, 400 without an item): a write in the mix,
``--path /orders/42=3 --path "POST /orders=1" --body order.json --header "Authorization:
Bearer ..."``.

Almost none of R is CPU: the advice should be many slots (threads or greenlets), not
many processes.
"""

import time

from flask import Flask, request

app = Flask(__name__)

#: Seconds each request waits (a query, an HTTP call to another service ...).
WAIT_S = 0.1


@app.get("/orders/<int:order_id>")
def order(order_id: int):
    time.sleep(WAIT_S)
    return {"order": order_id, "status": "shipped"}


@app.post("/orders")
def create():
    if not request.headers.get("Authorization"):
        return {"error": "an Authorization header is required", "status": 401}, 401
    item = (request.get_json(silent=True) or {}).get("item")
    if item is None:
        return {"error": "a JSON body with an item is required", "status": 400}, 400
    time.sleep(WAIT_S)
    return {"order": 43, "item": item, "status": "created"}, 201
