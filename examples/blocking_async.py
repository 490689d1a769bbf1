"""The commonest asyncio mistake: an ``async def`` endpoint that makes a blocking call.

    python -m loadtests.advise --app examples.blocking_async:app --path /orders/42 \
        --rate 15 --p99 600

Each request sleeps 0.1 s in ``time.sleep``, as a blocking database driver or HTTP client
would, inside a coroutine: the call holds the event loop, so one worker answers one request
at a time however many it has accepted. ``/fixed/<id>`` is the same wait done right, a
plain ``def`` endpoint that Starlette runs in its thread pool. The advisor's stall probe
should name the first and count each of its workers as one slot.
"""

import time

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

#: Seconds each request waits (a query through a driver that blocks ...).
WAIT_S = 0.1


async def order(request):
    time.sleep(WAIT_S)  # blocks the event loop: the mistake
    return JSONResponse({"order": request.path_params["order_id"], "status": "shipped"})


def fixed(request):
    time.sleep(WAIT_S)  # a plain def: Starlette runs it in its thread pool
    return JSONResponse({"order": request.path_params["order_id"], "status": "shipped"})


app = Starlette(routes=[Route("/orders/{order_id:int}", order),
                        Route("/fixed/{order_id:int}", fixed)])
