"""A mix of requests (``loadtests/load/traffic.py``) as Locust's AppUser sends it: routes in
their proportions, a POST with its body, a header on every request -- received by a real
server that records each request whole. (The open-loop generator's side:
tests/test_openloop.py.)"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from loadtests.harness.cpu import CpuMeter
from loadtests.load.locustrun import Load, LocustRun

from .helpers import Stub


@pytest.mark.integration
def test_locusts_app_user_sends_the_mix_with_its_body_and_headers(tmp_path):
    """Two users for a second and a half: their requests are three GETs of /a for each
    POST of /b (in turn, by smooth weighted round robin: the counts within one turn of 3:1
    per user), each POST with the body, every request with the token; Locust names each
    route in its statistics. Its gate opens before Locust is ready, and the run still
    lasts its warm-up and window, 1.5 s (the locustfile's --stop-after; Locust's -t takes
    whole seconds): from its log's "Run time limit set" to "limit reached" (gevent's loop
    clock, stale by Locust's imports, had cut a 2 s -t to 1.47-1.77 s here; the
    locustfile's _wait_at_the_gate), and no longer."""
    body = tmp_path / "order.json"
    body.write_bytes(b'{"item": 7}')
    load = Load(tag="app", users=2, duration=1.0, warmup=0.5, extra=(
        "--path", "/a=3", "--path", "POST /b=1", "--body", str(body),
        "--header", "Authorization: Bearer t0ken"))
    with Stub() as stub, LocustRun(load, f"http://127.0.0.1:{stub.port}",
                                   tmp_path / "locust", tmp_path / "locust.log") as run:
        summary = run.wait(CpuMeter({}))
    lines = [raw.split(b"\r\n", 1)[0] for raw in stub.requests]
    gets, posts = lines.count(b"GET /a HTTP/1.1"), lines.count(b"POST /b HTTP/1.1")
    assert gets + posts == len(lines) > 20
    assert abs(gets - 3 * posts) <= 2 * 3  # each user stopped somewhere in its turn of four
    for raw in stub.requests:
        assert b"\r\nAuthorization: Bearer t0ken\r\n" in raw
        assert raw.endswith(b'\r\n\r\n{"item": 7}') == raw.startswith(b"POST")
        assert b"\r\ncontent-type: application/json\r\n" in raw.lower()  # a .json body's
    assert {"/a", "POST /b"} <= summary.rows.keys()
    assert 1.5 - 0.002 <= _run_time(tmp_path / "locust.log") < 1.9  # log times are in ms


def _run_time(log: Path) -> float:
    """Seconds from Locust's arming of its -t timer to its firing, by its log's stamps."""
    stamps = {}
    for line in log.read_text().splitlines():
        for key, text in (("set", "Run time limit set to"), ("reached", "run-time limit reached")):
            if text in line:
                stamps[key] = datetime.strptime(line[1:24], "%Y-%m-%d %H:%M:%S,%f")
    return (stamps["reached"] - stamps["set"]).total_seconds()
