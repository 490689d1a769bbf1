"""Every endpoint through Flask's test client, and every kind of bad input."""

import sys

import pytest

from webapp import create_app
from webapp.params import DEFAULT_DELAY, MAX_DELAY, MAX_N
from webapp.work.primes import FIXTURE, SHORT_PRIME

pytestmark = pytest.mark.inprocess  # no process: make test runs it beside the timing tests


def _json_error(response, status):
    assert response.status_code == status
    assert response.is_json
    body = response.get_json()
    assert isinstance(body["error"], str) and body["error"]
    return body


def test_health(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_info_outside_gunicorn(client):
    body = client.get("/info").get_json()
    assert body["worker_class"] == "dev"
    assert body["gevent_patched"] is False
    assert body["greenlet"] is None
    assert body["switch_interval"] == sys.getswitchinterval()
    assert body["cpu_count"] >= 1
    assert body["thread"]["ident"] > 0
    assert {"pid", "python"} <= body.keys()


def test_io_sleeps_the_requested_delay(client):
    body = client.get("/io?delay=0.05").get_json()
    assert body["delay"] == 0.05
    assert body["elapsed"] >= 0.05


def test_mixed_sleeps_then_computes(client):
    from webapp.work.primes import MIXED_PRIME

    body = client.get("/mixed?delay=0.02").get_json()
    assert (body["delay"], body["n"], body["prime"]) == (0.02, MIXED_PRIME, True)
    assert body["elapsed"] >= 0.02 + body["cpu"] * 0.9 and body["cpu"] > 0
    assert client.get("/mixed?delay=0&n=91").get_json()["prime"] is False
    _json_error(client.get("/mixed?n=-3"), 400)


def test_io_default_delay(client):
    assert client.get("/io").get_json()["delay"] == DEFAULT_DELAY


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 97, 561, 7919])
def test_prime_small(client, n):
    body = client.get(f"/prime/{n}").get_json()
    assert body["n"] == n
    assert body["prime"] is (n in {2, 3, 97, 7919})


def test_prime_reports_the_checks_cpu_seconds(client):
    body = client.get(f"/prime/{SHORT_PRIME}").get_json()
    assert body["prime"] is True
    assert 0 < body["cpu"] <= body["elapsed"]  # one thread's CPU cannot outrun the wall clock


def test_prime_fixture_number(client):
    n = min(n for n in FIXTURE if n > 2)
    assert client.get(f"/prime/{n}").get_json()["prime"] is FIXTURE[n]


def test_every_fixture_number_is_under_the_cap():
    assert max(FIXTURE) <= MAX_N


BAD_DELAYS = [
    "abc", "-1", "-0.5", "1e-3", "nan", "NaN", "inf", "-inf", "", " ", "1_0", "0x10",
    "\u0663",  # ARABIC-INDIC DIGIT THREE, which float() would accept
    "1.2.3", f"{MAX_DELAY + 0.001}", "11", "9" * 400, "0.1; drop",
]


@pytest.mark.parametrize("raw", BAD_DELAYS)
def test_io_bad_delay(client, raw):
    _json_error(client.get("/io", query_string={"delay": raw}), 400)


BAD_NS = [
    "abc", "-5", "1.5", "nan", "inf", "0x10", "1e5", "+7", " 7", "\u0663", "1_000",
    str(MAX_N + 1), "9" * 100, "9" * 5000,
]


@pytest.mark.parametrize("raw", BAD_NS)
def test_prime_bad_n(client, raw):
    _json_error(client.get(f"/prime/{raw}"), 400)


def test_cap_edges_are_admitted(client):
    assert client.get(f"/io?delay={0:g}").status_code == 200
    assert client.get(f"/prime/{MAX_N}").get_json()["prime"] is False


@pytest.mark.parametrize("path", ["/nope", "/prime/", "/prime/7/8", "/io/1", "/" + "x" * 3000])
def test_unknown_route_is_json_404(client, path):
    _json_error(client.get(path), 404)


@pytest.mark.parametrize("path", ["/health", "/info", "/io", "/prime/7"])
def test_wrong_method_is_json_405(client, path):
    response = client.post(path)
    _json_error(response, 405)
    assert "GET" in response.headers["Allow"]


def test_unexpected_error_is_json_500_without_traceback():
    app = create_app()

    @app.get("/boom")
    def boom():
        raise ZeroDivisionError("secret internal detail")

    response = app.test_client().get("/boom")
    body = _json_error(response, 500)
    text = response.get_data(as_text=True)
    assert "secret" not in text and "Traceback" not in text and ".py" not in text
    assert body["status"] == 500


def test_blocking_flag_is_accepted_and_changes_nothing_on_wsgi(client):
    body = client.get("/io?delay=0&blocking=1").get_json()
    assert body["delay"] == 0
    assert client.get("/io?delay=0&blocking=2").status_code == 400


def test_to_thread_is_refused_on_wsgi(client):
    response = client.get("/prime/7?thread=1")
    assert response.status_code == 400
    assert "asgi" in response.get_json()["error"]
    assert client.get("/prime/7?thread=0").get_json()["prime"] is True


def test_download_sends_mb_mib_with_its_length(client):
    from webapp.work.download import DEFAULT_MB
    from webapp.work.gilfree import MEGABYTE

    response = client.get("/download?mb=2")
    assert response.status_code == 200
    assert response.data == bytes(2 * MEGABYTE)
    assert response.headers["Content-Length"] == str(2 * MEGABYTE)
    assert "X-Accel-Buffering" not in response.headers  # nginx may buffer it
    assert client.get("/download?unbuffered=1&mb=1").headers["X-Accel-Buffering"] == "no"
    assert client.get("/download").headers["Content-Length"] == str(DEFAULT_MB * MEGABYTE)


@pytest.mark.parametrize("query", ["mb=0", "mb=65", "mb=1.5", "mb=x", "unbuffered=2"])
def test_download_bad_input_is_400_json(client, query):
    response = client.get(f"/download?{query}")
    assert response.status_code == 400
    assert response.get_json()["error"].split()[0] in ("mb", "unbuffered")


def test_upload_reads_the_whole_body(client):
    body = client.post("/upload", data=bytes(100_000)).get_json()
    assert body["bytes"] == 100_000


def test_upload_over_the_cap_is_413_json_before_it_is_read(client):
    from webapp.work.upload import MAX_BYTES, MAX_MB

    response = client.post("/upload", data=bytes(MAX_BYTES + 1))
    assert response.status_code == 413
    assert response.get_json() == {"error": f"a body may hold at most {MAX_MB} MiB",
                                   "status": 413}


def test_upload_wants_post(client):
    response = client.get("/upload")
    assert response.status_code == 405 and "POST" in response.headers["Allow"]
