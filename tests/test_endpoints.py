"""The endpoints the deeper lessons rest on, on real gunicorn: napping, GIL-free hashing,
offload, the switch interval, the spinner, gevent's hub monitor."""

from __future__ import annotations

import hashlib
import re
import signal
import time
import urllib.request

import psutil
import pytest

from loadtests.load.client import get
from loadtests.servers import GunicornServer, ServerSpec
from webapp import offload
from webapp.work.gilfree import MAX_MB, sha256_megabytes
from webapp.work.primes import FIXTURE, QUICK_PRIME, SLOW_PRIME, is_prime, is_prime_napping

from .helpers import alive, health_during, wait_for

# -- pure functions ----------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 9, 97, 561, 7919, 200_003, QUICK_PRIME])
def test_napping_agrees_with_is_prime(n):
    assert is_prime_napping(n) is is_prime(n)


def test_napping_naps(monkeypatch):
    naps = []
    monkeypatch.setattr(time, "sleep", naps.append)
    assert is_prime_napping(QUICK_PRIME) is True
    # the book's test, i % 100_000 == 1, over odd i up to isqrt(n)
    assert len(naps) == pytest.approx(int(QUICK_PRIME**0.5) / 100_000, abs=1)
    assert set(naps) == {0}


@pytest.mark.parametrize("mb", [1, 3])
def test_sha256_megabytes(mb):
    assert sha256_megabytes(mb) == hashlib.sha256(bytes(mb << 20)).hexdigest()


def test_sha256_megabytes_refuses_out_of_range():
    with pytest.raises(ValueError):
        sha256_megabytes(MAX_MB + 1)


# -- endpoints through the test client ---------------------------------------------------


def test_prime_nap_gives_the_same_answer(client):
    n = next(k for k in FIXTURE if 10**14 < k < 10**15)
    plain = client.get(f"/prime/{n}").get_json()
    napped = client.get(f"/prime/{n}?nap=1").get_json()
    assert plain["prime"] is napped["prime"] is FIXTURE[n]


@pytest.mark.parametrize("raw", ["2", "-1", "yes", "true", "", "1.0", "01"])
def test_bad_nap_flag(client, raw):
    response = client.get(f"/prime/7?nap={raw}")
    assert response.status_code == 400 and "nap" in response.get_json()["error"]


def test_hash(client):
    body = client.get("/hash?mb=2").get_json()
    assert body["mb"] == 2
    assert body["sha256"] == hashlib.sha256(bytes(2 << 20)).hexdigest()


def test_hash_default(client):
    assert client.get("/hash").get_json()["mb"] == 64


@pytest.mark.parametrize("raw", ["0", "-1", str(MAX_MB + 1), "1.5", "abc", "", "nan", "1e3"])
def test_hash_bad_mb(client, raw):
    response = client.get(f"/hash?mb={raw}")
    assert response.status_code == 400 and response.get_json()["error"]


@pytest.fixture
def pool():
    yield
    offload.shutdown()


def test_offload_prime_in_a_pool_process(client, pool):
    body = client.get(f"/offload/prime/{QUICK_PRIME}").get_json()
    assert body["prime"] is True
    assert 0.01 < body["cpu"] <= body["elapsed"]  # the pool process's CPU, not the waiting web's
    pids = offload.pool.pool_pids()
    procs = [psutil.Process(p) for p in pids]
    assert procs and all(p.ppid() == psutil.Process().pid for p in procs)
    assert client.get("/info").get_json()["offload"] == {"backend": "pool", "pids": pids,
                                                      "size": offload.pool.pool_size()}
    offload.shutdown()
    assert not alive(procs)


@pytest.mark.parametrize("raw", ["-1", "x", "1.5", str(10**17)])
def test_offload_bad_n_never_reaches_the_pool(client, raw):
    response = client.get(f"/offload/prime/{raw}")
    assert response.status_code == 400
    assert offload.pool.pool_pids() == []


SPIN = re.compile(r"(\r[\\|/-] checking (\d+))+\r(\d+) (is prime|is not prime) "
                  r"\(\d+\.\d\d s, (\d+) frames\)\n")


def test_spin_stream_shape(client):
    response = client.get("/spin/97")
    assert response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    match = SPIN.fullmatch(text)
    assert match, repr(text)
    assert match.group(3) == "97" and match.group(4) == "is prime"


@pytest.mark.timing
def test_spin_frames_while_a_thread_computes(client):
    n = next(k for k in FIXTURE if 10**14 < k < 10**15)  # ~0.2-0.3 s
    text = client.get(f"/spin/{n}").get_data(as_text=True)
    match = SPIN.fullmatch(text)
    assert match and int(match.group(5)) >= 2  # the frames turned while it computed
    assert text.count("\r") == int(match.group(5)) + 1


@pytest.mark.parametrize("query", ["", "?nap=1", "?offload=1"])
def test_spin_bad_n(client, query):
    response = client.get(f"/spin/-5{query}")
    assert response.status_code == 400 and response.is_json


def test_spin_refuses_nap_and_offload_together(client):
    assert client.get("/spin/7?nap=1&offload=1").status_code == 400


# -- real servers ------------------------------------------------------------------------

pytest_integration = pytest.mark.integration


def _spin_frames(url: str) -> int:
    with urllib.request.urlopen(url, timeout=60) as response:
        text = response.read().decode()
    match = SPIN.fullmatch(text)
    assert match, repr(text[-200:])
    return int(match.group(5))


@pytest_integration
@pytest.mark.parametrize(("model", "query", "spins"), [
    ("gthread", "", True),
    ("sync", "", True),
    ("gevent", "", False),          # the Quick Quiz: CPU work freezes the event loop
    ("gevent", "?nap=1", True),
    ("gevent", "?offload=1", True),
    ("asgi", "", False),            # the same quiz on asyncio: spinner_async freezes
    ("asgi", "?nap=1", True),       # await asyncio.sleep(0) every 100 000 divisions
    ("asgi", "?offload=1", True),   # run_in_executor: the loop only awaits a future
])
@pytest.mark.timing
def test_spinner_spins_unless_the_event_loop_is_blocked(serve, model, query, spins):
    from .helpers import MODELS

    server = serve(MODELS[model])
    frames = _spin_frames(f"{server.url}/spin/{SLOW_PRIME}{query}")
    if spins:
        assert frames >= 5  # ~1.6 s at 10 frames/s; generous
    else:
        assert frames == 1  # the first frame, then nothing until the answer


@pytest_integration
@pytest.mark.timing
@pytest.mark.parametrize("model", ["gevent", "asgi"])
def test_offload_keeps_the_event_loop_answering(serve, model):
    """gevent's hub and asyncio's loop both answer /health while the prime runs in the
    worker's pool process."""
    from .helpers import MODELS

    server = serve(MODELS[model])
    assert get(f"{server.url}/offload/prime/7").status == 200  # start the pool
    (pool_pid, *_) = get(server.url + "/info").body["offload"]["pids"]
    healths, finished_after = health_during(server, f"/offload/prime/{SLOW_PRIME}", pool_pid)
    assert [h for h in healths if h.received < finished_after]  # answered meanwhile


@pytest_integration
@pytest.mark.parametrize("model", ["sync", "gthread", "gevent", "asgi"])
def test_offload_pool_dies_with_its_worker_on_reload_and_stop(model):
    spec = ServerSpec(model, threads=2 if model == "gthread" else 1,
                      env=(("OFFLOAD_PROCESSES", "2"),))
    with GunicornServer(spec) as server:
        assert get(f"{server.url}/offload/prime/{QUICK_PRIME}").body["prime"] is True
        first = [psutil.Process(p) for p in get(server.url + "/info").body["offload"]["pids"]]
        assert first
        old_workers = set(server.worker_pids())
        server.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: not alive(first), 30, "the old worker's pool outlived the reload")
        wait_for(lambda: server.worker_pids() and not set(server.worker_pids()) & old_workers,
                 30, "no new worker after the reload")
        wait_for(lambda: server.log_text().count("worker ready:") >= 2, 30,
                 "the new worker never got ready")
        assert get(f"{server.url}/offload/prime/{QUICK_PRIME}").body["prime"] is True
        second = [psutil.Process(p) for p in get(server.url + "/info").body["offload"]["pids"]]
        assert second and not {p.pid for p in second} & {p.pid for p in first}
        master = psutil.Process(server.proc.pid)
        server.proc.send_signal(signal.SIGTERM)
        server.proc.wait(timeout=40)
    assert not alive([*second, master])


@pytest_integration
@pytest.mark.parametrize("interval", [0.0005, 0.05])
def test_switch_interval_is_applied_in_each_worker(interval):
    spec = ServerSpec("gthread", workers=2, threads=2,
                      env=(("SWITCH_INTERVAL", str(interval)),), flags=False)
    with GunicornServer(spec) as server:
        seen = {}

        def both_answered() -> bool:  # ask until both workers have answered
            body = get(server.url + "/info").body
            seen[body["pid"]] = body["switch_interval"]
            return len(seen) == 2

        wait_for(both_answered, 20, "both workers' /info", interval=0)
    assert list(seen.values()) == pytest.approx([interval, interval])


def test_bad_switch_interval_is_refused():
    import subprocess
    import sys

    from loadtests.servers import CONFIG, ROOT

    result = subprocess.run([sys.executable, "-m", "gunicorn", "-c", str(CONFIG)], cwd=ROOT,
                            env={"SWITCH_INTERVAL": "fast", "PATH": "/usr/bin:/bin"},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "SWITCH_INTERVAL" in result.stderr


@pytest_integration
@pytest.mark.timing
def test_gevent_monitor_reports_the_blocked_hub():
    spec = ServerSpec("gevent", env=(("GEVENT_MONITOR_THREAD_ENABLE", "true"),
                                     ("GEVENT_MAX_BLOCKING_TIME", "0.1"),
                                     ("GEVENT_MONITOR_PRINT_BLOCKING_REPORTS", "false")))
    with GunicornServer(spec) as server:
        assert get(f"{server.url}/prime/{QUICK_PRIME}?nap=1").status == 200
        napping = server.log_text().count("hub blocked:")
        assert get(f"{server.url}/prime/{SLOW_PRIME}").status == 200
        wait_for(lambda: server.log_text().count("hub blocked:") - napping >= 5, 10,
                 server.log_tail())
    assert napping == 0  # napping never held the hub for 0.1 s


@pytest_integration
@pytest.mark.parametrize(("model", "frozen"), [("gthread", False), ("gevent", True),
                                               ("asgi", True)])
@pytest.mark.timing
def test_spinwatch_sees_the_frozen_loop(serve, model, frozen):
    from loadtests.lessons.observing.spinner import watch_one

    from .helpers import MODELS

    row = watch_one(f"{serve(MODELS[model]).url}/spin/{SLOW_PRIME}")
    # frozen: one wait covers most of the check; spinning: no wait comes near half of it
    assert (row["longest_gap_s"] > 0.5 * row["elapsed_s"]) is frozen
    assert (row["frames"] == 1) is frozen


def test_a_collection_is_timed_by_generation():
    """gcpauses times each collection through gc.callbacks: a forced full collection counts
    once in generation 2, with a duration; freezing moves the objects out of its reach."""
    import gc

    from webapp.instrument import gcpauses

    gcpauses.install()
    gcpauses.install()  # once per process, however often asked
    before = gcpauses.snapshot()
    gc.collect(2)
    after = gcpauses.snapshot()
    assert after["timed"] and gc.callbacks.count(gcpauses._timed) == 1
    assert after["collections"][2] == before["collections"][2] + 1
    assert after["total_ms"][2] > before["total_ms"][2]
    assert after["longest_ms"][2] >= after["total_ms"][2] - before["total_ms"][2] - 1e-3


@pytest_integration
@pytest.mark.parametrize("freeze", ["0", "1"])
def test_gc_freeze_freezes_the_apps_objects_in_each_worker(freeze):
    """GC_FREEZE=1: /info's gc.frozen counts the objects gc.freeze() put away (the app and
    its imports: tens of thousands); 0 without. Collections are timed either way."""
    spec = ServerSpec("gevent", env=(("GC_FREEZE", freeze),))
    with GunicornServer(spec) as server:
        seen = get(server.url + "/info").body["gc"]
    assert seen["timed"]
    assert (seen["frozen"] > 10_000) if freeze == "1" else (seen["frozen"] == 0)
