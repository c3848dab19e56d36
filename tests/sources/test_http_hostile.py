"""The HTTP client against servers that misbehave: trickling bytes, redirecting secrets
to another host, gzip, keep-alive, and a rate limit shared by real processes.

Every server is real and listens on 127.0.0.1; loops are bounded so no test can hang.
"""

from __future__ import annotations

import gzip
import multiprocessing
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from welfare_observatory.errors import FetchError
from welfare_observatory.sources.http import HttpClient, RateLimiter


@pytest.fixture
def trickle() -> Iterator[str]:
    """A raw socket server that sends its answer one byte every 0.5 s (at most 60 bytes)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve_one(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(2.0)
            try:
                conn.recv(4096)
                headers = b"HTTP/1.1 200 OK\r\nContent-Length: 60\r\n\r\n"
                conn.sendall(headers)
                for _ in range(60):
                    if stop.wait(0.5):
                        return
                    conn.sendall(b"x")
            except OSError:
                return

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            threading.Thread(target=serve_one, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(2)
    listener.close()


def test_a_trickling_server_cannot_keep_a_request_past_its_total_timeout(trickle):
    # Each byte arrives well inside the per-read timeout; only a total deadline stops it.
    client = HttpClient(timeout=1.5, retries=0, rate_limits={})
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"timed out after 1\.5 s"):
        client.get(f"{trickle}/slow")
    assert time.monotonic() - started < 2.5


def test_the_deadline_covers_every_attempt_and_retry(trickle):
    client = HttpClient(timeout=0.6, retries=2, backoff=0.01, rate_limits={})
    started = time.monotonic()
    with pytest.raises(FetchError, match="after 3 attempts"):
        client.get(f"{trickle}/slow")
    assert time.monotonic() - started < 3.0


def test_a_source_budget_bounds_all_requests_and_backoff(trickle):
    client = HttpClient(timeout=5, retries=5, backoff=0.3, rate_limits={})
    started = time.monotonic()
    with client.deadline(1.0), pytest.raises(FetchError):
        client.get(f"{trickle}/slow")
    assert time.monotonic() - started < 2.0


class _Recorder:
    """A scripted HTTP/1.1 server that records the headers it saw and the peers."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.seen: list[tuple[str, dict[str, str]]] = []
        self.peers: set[tuple[str, int]] = set()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, so connection reuse shows

            def do_GET(self) -> None:
                recorder.seen.append((self.path, dict(self.headers)))
                recorder.peers.add(self.client_address)
                status, headers, body = recorder.routes.get(self.path, (404, {}, b"no"))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def two_hosts() -> Iterator[tuple[_Recorder, _Recorder]]:
    a, b = _Recorder(), _Recorder()
    yield a, b
    a.close()
    b.close()


def test_secret_headers_never_follow_a_redirect_to_another_origin(two_hosts, monkeypatch):
    first, second = two_hosts
    monkeypatch.setenv("WO_TEST_TOKEN", "s3cr3t-value")
    first.routes["/data"] = (302, {"Location": f"{second.url}/data"}, b"")
    second.routes["/data"] = (200, {}, b"landed")
    client = HttpClient(retries=0, rate_limits={})
    answer = client.get(
        f"{first.url}/data",
        headers={"Authorization": "env:WO_TEST_TOKEN", "X-Api-Key": "env:WO_TEST_TOKEN"},
    )
    assert answer.body == b"landed"
    assert first.seen[0][1]["Authorization"] == "s3cr3t-value"
    sent = {k.lower(): v for k, v in second.seen[0][1].items()}
    assert "authorization" not in sent and "x-api-key" not in sent
    assert "s3cr3t-value" not in repr(second.seen)


def test_secret_headers_stay_on_a_redirect_within_the_origin(two_hosts, monkeypatch):
    first, _ = two_hosts
    monkeypatch.setenv("WO_TEST_TOKEN", "s3cr3t-value")
    first.routes["/old"] = (301, {"Location": "/new"}, b"")
    first.routes["/new"] = (200, {}, b"ok")
    client = HttpClient(retries=0, rate_limits={})
    client.get(f"{first.url}/old", headers={"X-Api-Key": "env:WO_TEST_TOKEN"})
    assert first.seen[-1][0] == "/new" and first.seen[-1][1]["X-Api-Key"] == "s3cr3t-value"


def test_plain_headers_do_follow_a_redirect_to_another_origin(two_hosts):
    first, second = two_hosts
    first.routes["/x"] = (307, {"Location": f"{second.url}/x"}, b"")
    second.routes["/x"] = (200, {}, b"ok")
    HttpClient(retries=0, rate_limits={}).get(f"{first.url}/x", headers={"Accept": "text/csv"})
    assert second.seen[0][1]["Accept"] == "text/csv"


def test_redirect_loops_end_in_a_fetch_error(two_hosts):
    first, _ = two_hosts
    first.routes["/loop"] = (302, {"Location": "/loop"}, b"")
    with pytest.raises(FetchError, match="redirects more than"):
        HttpClient(retries=0, rate_limits={}).get(f"{first.url}/loop")


def test_gzip_answers_are_asked_for_and_unpacked(two_hosts):
    first, _ = two_hosts
    body = b"a,b\n" + b"1,2\n" * 1000
    first.routes["/z"] = (200, {"Content-Encoding": "gzip"}, gzip.compress(body))
    answer = HttpClient(retries=0, rate_limits={}).get(f"{first.url}/z")
    assert answer.body == body
    assert "gzip" in first.seen[0][1]["Accept-Encoding"]


def test_the_byte_bound_counts_unpacked_bytes(two_hosts):
    first, _ = two_hosts
    bomb = gzip.compress(b"\0" * 200_000)  # a few hundred bytes on the wire
    first.routes["/bomb"] = (200, {"Content-Encoding": "gzip"}, bomb)
    client = HttpClient(retries=0, rate_limits={}, max_bytes=10_000)
    with pytest.raises(FetchError, match="larger than 10000 bytes"):
        client.get(f"{first.url}/bomb")


def test_connections_are_reused_across_requests(two_hosts):
    first, _ = two_hosts
    first.routes["/a"] = (200, {}, b"a")
    client = HttpClient(retries=0, rate_limits={})
    for _ in range(5):
        client.get(f"{first.url}/a")
    assert len(first.seen) == 5 and len(first.peers) == 1


def _hammer(state: str, rate: float, count: int, out: multiprocessing.Queue) -> None:
    limiter = RateLimiter({"istat.test": rate}, state=state)
    for _ in range(count):
        limiter.wait("istat.test")
        out.put(time.time())


def test_the_rate_limit_holds_across_real_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # 600 a minute: one request every 0.1 s, whichever of the 4 processes sends it.
    # A spawned process imports this module by name to find _hammer: the folder holding
    # tests/ goes on its path (python -m pytest puts it there; the pytest script does not).
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2]))
    state = str(tmp_path / "limits.sqlite")
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    workers = [context.Process(target=_hammer, args=(state, 600.0, 3, out)) for _ in range(4)]
    for worker in workers:
        worker.start()
    stamps = sorted(out.get(timeout=60) for _ in range(12))
    for worker in workers:
        worker.join(30)
        assert worker.exitcode == 0
    # Five slots fit in half a second; a late wake-up may bunch one more into a window.
    crowded = [sum(1 for u in stamps if t <= u < t + 0.5) for t in stamps]
    assert max(crowded) <= 6, [round(t - stamps[0], 3) for t in stamps]
    assert stamps[-1] - stamps[0] >= 0.9


def test_a_shared_limiter_file_is_one_bucket_per_host(tmp_path: Path):
    now = [1000.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)

    state = tmp_path / "limits.sqlite"
    a = RateLimiter({"h": 5}, state=state, clock=lambda: now[0], sleep=sleep)
    b = RateLimiter({"h": 5}, state=state, clock=lambda: now[0], sleep=sleep)
    a.wait("h")
    b.wait("h")  # another process's limiter: it sees the first reservation
    a.wait("h")
    assert waits == [12.0, 24.0]


def test_a_burst_lets_that_many_requests_through_at_once():
    now = [0.0]
    waits: list[float] = []
    limiter = RateLimiter({"h": 6}, burst=3, clock=lambda: now[0], sleep=waits.append)
    for _ in range(4):
        limiter.wait("h")
    assert waits == [10.0]


def test_an_unusable_state_file_falls_back_to_this_process(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    limiter = RateLimiter({"h": 60}, state=blocker / "limits.sqlite", sleep=lambda s: None)
    with pytest.warns(RuntimeWarning, match="limiting this process only"):
        limiter.wait("h")
    assert limiter.state is None


def test_a_client_pickles_and_its_copy_shares_the_buckets(tmp_path: Path):
    import pickle

    state = tmp_path / "limits.sqlite"
    client = HttpClient(rate_limits={"h": 5}, rate_state=state)
    copy = pickle.loads(pickle.dumps(client))  # as a Dask worker receives it
    assert copy.limiter.state == state
    now = [50.0]
    waits: list[float] = []
    for limiter in (client.limiter, copy.limiter):
        limiter._clock = lambda: now[0]
        limiter._sleep = waits.append
    client.limiter.wait("h")
    copy.limiter.wait("h")
    assert waits == [12.0]
