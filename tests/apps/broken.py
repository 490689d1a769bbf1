"""A WSGI app with the advisor's bad-input cases: a path that fails, one that hangs, one that
says whether the lab's own app was imported into its worker."""

import json
import sys
import time


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/fail":
        raise RuntimeError("the advisor must turn this 500 into one line")
    if path == "/hang":
        time.sleep(3600)
    if path == "/modules":
        body = json.dumps({"webapp": "webapp" in sys.modules}).encode()
    elif path == "/ok":
        body = b'{"ok": true}'
    else:
        start_response("404 Not Found", [("Content-Type", "application/json")])
        return [b'{"error": "not found"}']
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
