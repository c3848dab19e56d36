"""The HTTP client: retries with backoff, timeouts, status errors, rate limits, secrets.

A real HTTP server on 127.0.0.1 answers; sleeping is injected so no test waits.
"""

from __future__ import annotations

import time
from http.server import BaseHTTPRequestHandler

import pytest

from welfare_observatory.errors import ConfigError, FetchError
from welfare_observatory.sources.http import (
    HttpClient,
    HttpStatusError,
    RateLimiter,
    request_key,
    user_agent,
)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(sleeps: list[float]) -> HttpClient:
    return HttpClient(timeout=2, retries=2, backoff=0.5, sleep=sleeps.append, rate_limits={})


def test_a_good_answer_carries_status_body_and_media_type(server, client):
    server.routes["/ok"] = [(200, {"Content-Type": "text/csv; charset=utf-8"}, b"a,b\n1,2\n")]
    response = client.get(f"{server.url}/ok", params={"b": "2", "a": "1"})
    assert (response.status, response.body, response.media_type) == (200, b"a,b\n1,2\n", "text/csv")
    assert response.url == f"{server.url}/ok?a=1&b=2"  # sorted: the request identity


def test_requests_name_the_library_in_the_user_agent(server, client):
    server.routes["/ok"] = [(200, {}, b"x")]
    client.get(f"{server.url}/ok")
    assert server.seen[0][1]["User-Agent"] == user_agent()
    assert user_agent().startswith("welfare-observatory/")


def test_server_errors_are_retried_with_exponential_backoff(server, client, sleeps):
    server.routes["/flaky"] = [(500, {}, b"boom"), (503, {}, b"busy"), (200, {}, b"done")]
    assert client.get(f"{server.url}/flaky").body == b"done"
    assert sleeps == [0.5, 1.0]
    assert client.requests == 3


def test_retries_are_bounded_and_the_error_names_url_and_status(server, client, sleeps):
    server.routes["/down"] = [(500, {}, b"Internal error")]
    with pytest.raises(HttpStatusError) as info:
        client.get(f"{server.url}/down", source="pop")
    assert info.value.status == 500
    assert f"{server.url}/down" in str(info.value) and "500" in str(info.value)
    assert info.value.location.source == "pop"
    assert len(sleeps) == 2 and client.requests == 3


def test_retry_after_is_honoured_within_the_bound(server, sleeps):
    server.routes["/slow"] = [(429, {"Retry-After": "7"}, b""), (200, {}, b"ok")]
    client = HttpClient(retries=1, backoff=0.1, max_backoff=5, sleep=sleeps.append, rate_limits={})
    client.get(f"{server.url}/slow")
    assert sleeps == [5]


def test_a_missing_resource_is_not_retried(server, client, sleeps):
    with pytest.raises(HttpStatusError) as info:
        client.get(f"{server.url}/nothing")
    assert info.value.status == 404 and sleeps == []
    assert "check the dataset id" in (info.value.hint or "")


def test_accepted_error_statuses_come_back_as_answers(server, client):
    server.routes["/none"] = [(404, {}, b"Not Found - NoRecordsFound")]
    response = client.get(f"{server.url}/none", accept_status=(404,))
    assert (response.status, response.body) == (404, b"Not Found - NoRecordsFound")


def test_a_server_that_hangs_times_out_and_is_reported(server, sleeps):
    def hang(handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        time.sleep(1.0)
        return 200, {}, b"too late"

    server.routes["/hang"] = hang
    client = HttpClient(timeout=0.2, retries=1, backoff=0.01, sleep=sleeps.append, rate_limits={})
    started = time.monotonic()
    with pytest.raises(FetchError) as info:
        client.get(f"{server.url}/hang", source="slow_source")
    assert time.monotonic() - started < 1.9
    assert "after 2 attempts" in str(info.value) and "/hang" in str(info.value)
    assert info.value.location.source == "slow_source"


def test_a_server_that_lies_about_the_length_is_a_fetch_error(server, client):
    server.routes["/short"] = [(200, {"Content-Length": "1000"}, b"only a little")]
    with pytest.raises(FetchError, match="truncated: 13 of 1000 bytes"):
        client.get(f"{server.url}/short")


def test_answers_larger_than_the_bound_are_refused(server, sleeps):
    server.routes["/big"] = [(200, {}, b"x" * 5000)]
    client = HttpClient(max_bytes=1000, sleep=sleeps.append, rate_limits={})
    with pytest.raises(FetchError, match="larger than 1000 bytes"):
        client.get(f"{server.url}/big")


def test_secret_headers_come_from_the_environment_and_never_from_text(server, client, monkeypatch):
    server.routes["/api"] = [(401, {}, b"denied")]
    monkeypatch.setenv("WO_TEST_TOKEN", "s3cr3t-value")
    with pytest.raises(HttpStatusError) as info:
        client.get(f"{server.url}/api", headers={"Authorization": "env:WO_TEST_TOKEN"})
    assert server.seen[-1][1]["Authorization"] == "s3cr3t-value"
    assert "s3cr3t" not in str(info.value) and "s3cr3t" not in (info.value.hint or "")


def test_secret_query_parameters_stay_out_of_the_request_key(server, client, monkeypatch):
    server.routes["/q"] = [(200, {}, b"ok")]
    monkeypatch.setenv("WO_TEST_KEY", "abc123")
    response = client.get(f"{server.url}/q", params={"apikey": "env:WO_TEST_KEY"})
    assert "apikey=abc123" in server.seen[-1][0]
    assert response.url.endswith("apikey=env:WO_TEST_KEY") and "abc123" not in response.url


def test_a_missing_secret_is_a_config_error_naming_the_variable(client, monkeypatch):
    monkeypatch.delenv("WO_TEST_ABSENT", raising=False)
    with pytest.raises(ConfigError, match="WO_TEST_ABSENT"):
        client.get("http://127.0.0.1:9/x", headers={"X-Key": "env:WO_TEST_ABSENT"})


def test_only_http_urls_are_fetched(client):
    with pytest.raises(ConfigError, match="unsupported URL scheme"):
        client.get("file:///etc/passwd")


def test_request_keys_sort_parameters_and_keep_existing_queries():
    assert request_key("http://h/x", {"b": "1", "a": "2"}) == "http://h/x?a=2&b=1"
    assert request_key("http://h/x?c=3", {"a": "1"}) == "http://h/x?c=3&a=1"
    assert request_key("http://h/x") == "http://h/x"


def test_the_rate_limiter_spaces_requests_per_host():
    now = [100.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    limiter = RateLimiter({"esploradati.istat.it": 5}, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        limiter.wait("esploradati.istat.it")
    limiter.wait("example.org")  # not limited
    assert waits == [12.0, 12.0]


def test_istat_is_limited_to_five_requests_a_minute_by_default():
    assert RateLimiter().limits["esploradati.istat.it"] == 5


def test_a_non_positive_rate_is_a_config_error():
    with pytest.raises(ConfigError):
        RateLimiter({"h": 0})


def test_redirects_are_followed_to_http_only(server, client):
    server.routes["/moved"] = [(301, {"Location": "/ok"}, b"")]
    server.routes["/ok"] = [(200, {}, b"here")]
    assert client.get(f"{server.url}/moved").body == b"here"
    server.routes["/sneaky"] = [(302, {"Location": "ftp://127.0.0.1/secret"}, b"")]
    with pytest.raises(FetchError, match="non-HTTP URL"):
        client.get(f"{server.url}/sneaky")
