"""The endpoint client: back-off, Retry-After, AIMD limits, URL/config validation, API keys."""

from __future__ import annotations

import email.utils
import json
import random
import threading
import time
import uuid
from decimal import Decimal

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from clients.backoff import backoff_delay, parse_retry_after
from clients.config import EndpointConfig
from clients.errors import PermanentEndpointError, TransientEndpointError
from clients.http import chat_completion
from clients.keys import api_key_decrypt, api_key_encrypt
from clients.limits import LocalLimiter, RedisLimiter, acquire, admitted, aimd_next
from clients.simulated import sim_quality, simulated_answer
from clients.urlguard import validate_endpoint_url

# --------------------------------------------------------------------------- back-off


@given(st.integers(0, 30), st.floats(0.01, 5), st.floats(0.1, 60), st.integers(0, 2**32))
def test_backoff_is_full_jitter_under_the_exponential_cap(attempt, base, cap, seed):
    d = backoff_delay(attempt, base=base, cap=cap, rng=random.Random(seed))
    assert 0.0 <= d <= min(cap, base * 2**attempt) + 1e-12


@given(st.integers(0, 10), st.floats(0, 100), st.integers(0, 2**32))
def test_backoff_honours_retry_after_up_to_the_cap(attempt, retry_after, seed):
    d = backoff_delay(attempt, base=0.1, cap=20.0, retry_after=retry_after, rng=random.Random(seed))
    assert d >= min(20.0, retry_after)
    assert d <= 20.0


def test_retry_after_forms():
    assert parse_retry_after("7") == 7.0
    now = time.time()
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(date, now=now) == pytest.approx(30, abs=1.0)
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


# --------------------------------------------------------------------------- AIMD


def test_aimd_steps():
    # multiplicative decrease, once per cooldown
    assert aimd_next(8.0, "congestion", cap=8, now=10.0, last_decrease=0.0) == (4.0, 10.0)
    assert aimd_next(4.0, "congestion", cap=8, now=10.5, last_decrease=10.0) == (4.0, 10.0)
    assert aimd_next(4.0, "congestion", cap=8, now=11.0, last_decrease=10.0) == (2.0, 11.0)
    assert aimd_next(1.5, "congestion", cap=8, now=20.0, last_decrease=0.0) == (
        1.0,
        20.0,
    )  # floor 1
    # additive increase: 1/limit per success, i.e. +1 per window of `limit` successes
    limit = 2.0
    for _ in range(2):
        limit, _ = aimd_next(limit, "ok", cap=8, now=0.0, last_decrease=0.0)
    assert limit == pytest.approx(2.0 + 1 / 2 + 1 / 2.5)
    assert aimd_next(7.9, "ok", cap=8, now=0, last_decrease=0)[0] == 8.0  # capped
    assert aimd_next(5.0, "error", cap=8, now=0, last_decrease=0)[0] == 5.0


@given(st.lists(st.sampled_from(["ok", "congestion", "error"]), max_size=80), st.integers(1, 64))
def test_aimd_limit_stays_within_1_and_cap(outcomes, cap):
    limit, last = float(cap), -1e9
    for k, o in enumerate(outcomes):
        limit, last = aimd_next(limit, o, cap=cap, now=float(k), last_decrease=last)
        assert 1.0 <= limit <= cap


@given(st.floats(1.0, 50.0), st.integers(1, 400))
def test_additive_increase_follows_the_square_root_law(start, n):
    # x' = x + 1/x gives x'^2 = x^2 + 2 + 1/x^2, so after n steps (x >= start throughout)
    # start^2 + 2n <= x_n^2 <= start^2 + 2n + n/start^2: about +1 per window of `limit` calls
    limit = start
    for _ in range(n):
        limit, _ = aimd_next(limit, "ok", cap=10**6, now=0.0, last_decrease=0.0)
    assert start**2 + 2 * n - 1e-6 <= limit**2 <= start**2 + 2 * n + n / start**2 + 1e-6


@given(st.floats(1.0, 512.0), st.integers(0, 12), st.sampled_from([0.5, 0.7, 0.9]))
def test_multiplicative_decrease_is_geometric_and_floored_at_1(start, m, beta):
    limit, last = start, -1e9
    for k in range(m):  # one congestion signal per cooldown window
        limit, last = aimd_next(
            limit, "congestion", cap=512, now=2.0 * k, last_decrease=last, beta=beta, cooldown=2.0
        )
    assert limit == pytest.approx(max(1.0, start * beta**m), rel=1e-12)
    # signals inside the cooldown after a decrease change nothing
    if m:
        assert aimd_next(
            limit, "congestion", cap=512, now=last + 1.9, last_decrease=last, cooldown=2.0
        ) == (limit, last)


@pytest.mark.parametrize(
    ("limit", "cap", "slots"), [(0.3, 8, 1), (1.0, 8, 1), (3.99, 8, 3), (9.5, 8, 8)]
)
def test_admitted_is_the_floor_of_the_limit_within_1_and_cap(limit, cap, slots):
    assert admitted(limit, cap=cap) == slots


def _peak_in_flight(
    limiter, *, threads: int, each: int, hold: float, outcome: str, timeout: float
) -> int:
    """The most holders of endpoint ``ep`` (cap 3) at once, ``threads`` threads acquiring it
    ``each`` times and holding it ``hold`` seconds."""
    active = peak = 0
    lock = threading.Lock()

    def work():
        nonlocal active, peak
        for _ in range(each):
            token = acquire(limiter, "ep", cap=3, ttl=10, timeout=timeout)
            with lock:
                active += 1
                peak = max(peak, active)
            time.sleep(hold)
            with lock:
                active -= 1
            limiter.release("ep", token, cap=3, outcome=outcome)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    return peak


def test_local_limiter_caps_concurrency_across_threads():
    limiter = LocalLimiter()
    assert _peak_in_flight(limiter, threads=20, each=1, hold=0.01, outcome="ok", timeout=10) == 3
    assert limiter.in_flight("ep") == 0


def test_limiter_lowers_the_in_flight_limit_on_congestion():
    limiter = LocalLimiter(cooldown=0.0)
    tokens = [limiter.try_acquire("ep", cap=8, ttl=10) for _ in range(8)]
    assert all(tokens) and limiter.try_acquire("ep", cap=8, ttl=10) is None
    limiter.release("ep", tokens.pop(), cap=8, outcome="congestion")  # 8 -> 4
    assert limiter.limit("ep", cap=8) == 4.0
    for t in tokens[:4]:
        limiter.release("ep", t, cap=8, outcome="error")
    # 3 leases left, limit 4: one more fits, then none
    assert limiter.try_acquire("ep", cap=8, ttl=10) is not None
    assert limiter.try_acquire("ep", cap=8, ttl=10) is None


def test_redis_limiter_matches_the_local_one(redis_url):
    import redis

    from tests.conftest import _test_redis_url

    client = redis.Redis.from_url(_test_redis_url())
    shared = RedisLimiter(client, prefix=f"test:{uuid.uuid4().hex}", cooldown=0.0)
    local = LocalLimiter(cooldown=0.0)
    outcomes = ["ok", "congestion", "ok", "ok", "congestion", "congestion", "ok", "error", "ok"]
    try:
        for o in outcomes:
            for lim in (shared, local):
                tok = lim.try_acquire("ep", cap=6, ttl=10)
                assert tok is not None
                lim.release("ep", tok, cap=6, outcome=o)
            assert shared.limit("ep", cap=6) == pytest.approx(local.limit("ep", cap=6))
        # expired leases are reclaimed (a crashed holder does not block forever)
        lim = shared.limit("ep", cap=6)
        held = [shared.try_acquire("ep", cap=6, ttl=0.2) for _ in range(int(lim))]
        assert all(held) and shared.try_acquire("ep", cap=6, ttl=10) is None
        time.sleep(0.3)
        assert shared.try_acquire("ep", cap=6, ttl=10) is not None
    finally:
        shared.reset("ep")


@pytest.fixture
def redis_limiter(redis_url):
    import redis

    from tests.conftest import _test_redis_url

    limiter = RedisLimiter(
        redis.Redis.from_url(_test_redis_url()), prefix=f"test:{uuid.uuid4().hex}", cooldown=0.0
    )
    yield limiter
    limiter.reset("ep")


def test_redis_and_local_limiters_apply_the_same_rule_exactly(redis_limiter):
    rng = random.Random(7)
    local = LocalLimiter(cooldown=0.0)
    for _ in range(150):
        outcome = rng.choice(["ok", "ok", "ok", "congestion", "error"])
        for lim in (redis_limiter, local):
            tok = lim.try_acquire("ep", cap=16, ttl=10)
            assert tok is not None
            lim.release("ep", tok, cap=16, outcome=outcome)
        assert redis_limiter.limit("ep", cap=16) == local.limit("ep", cap=16)
    assert redis_limiter.in_flight("ep") == 0


def test_redis_limiter_caps_concurrency_across_threads(redis_limiter):
    peak = _peak_in_flight(
        redis_limiter, threads=12, each=3, hold=0.005, outcome="error", timeout=30
    )
    assert peak == 3
    assert redis_limiter.in_flight("ep") == 0


def test_concurrent_redis_releases_lose_no_update(redis_limiter):
    limiter = RedisLimiter(redis_limiter.client, prefix=redis_limiter.prefix, initial=61.0)
    expected = 61.0
    tokens = [limiter.try_acquire("ep", cap=1000, ttl=30) for _ in range(60)]
    assert all(tokens)

    def give_back(chunk):
        for tok in chunk:
            limiter.release("ep", tok, cap=1000, outcome="ok")

    threads = [threading.Thread(target=give_back, args=(tokens[i::6],)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for _ in range(60):  # x -> x + 1/x sixty times, whatever the order of the releases
        expected += 1.0 / expected
    assert limiter.limit("ep", cap=1000) == pytest.approx(expected, rel=1e-12)
    assert limiter.in_flight("ep") == 0


# --------------------------------------------------------------------------- the client


def _config(**kw):
    base = {
        "key": f"t-{uuid.uuid4().hex}",
        "base_url": "http://model.test/v1",
        "model": "m",
        "api_key": "sk-1",
        "max_retries": 3,
        "backoff_base": 0.01,
        "backoff_cap": 0.05,
        "timeout": 1.0,
    }
    base.update(kw)
    return EndpointConfig(**base)


def _ok(text="hello", usage=None):
    body = {"choices": [{"message": {"role": "assistant", "content": text}}]}
    if usage is not None:
        body["usage"] = usage
    return httpx.Response(200, json=body)


def _client(responses):
    seen = []

    def handler(request: httpx.Request):
        seen.append(request)
        item = responses.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    return httpx.Client(transport=httpx.MockTransport(handler)), seen


def _complete(client, config=None, *, limiter=None, sleep=lambda s: None):
    """One ``chat_completion`` of the prompt "q" through ``client``, without real sleeps."""
    return chat_completion(
        _config() if config is None else config,
        [{"role": "user", "content": "q"}],
        limiter=LocalLimiter() if limiter is None else limiter,
        client=client,
        sleep=sleep,
    )


def test_success_records_tokens_cost_and_sends_the_request():
    client, seen = _client([_ok("hi there", {"prompt_tokens": 1000, "completion_tokens": 500})])
    config = _config(
        price_prompt_per_1k=0.5, price_completion_per_1k=1.5, temperature=0.2, max_tokens=64
    )
    out = chat_completion(
        config, [{"role": "user", "content": "q"}], limiter=LocalLimiter(), client=client
    )
    assert out.text == "hi there" and out.attempts == 1
    assert (out.prompt_tokens, out.completion_tokens) == (1000, 500)
    assert out.cost == Decimal("0.5") + Decimal("0.75")
    req = seen[0]
    assert str(req.url) == "http://model.test/v1/chat/completions"
    assert req.headers["Authorization"] == "Bearer sk-1"
    body = json.loads(req.content)
    assert body == {
        "model": "m",
        "messages": [{"role": "user", "content": "q"}],
        "temperature": 0.2,
        "max_tokens": 64,
    }


def test_429_retry_after_and_5xx_are_retried():
    sleeps = []
    client, seen = _client(
        [
            httpx.Response(429, headers={"Retry-After": "2"}),
            httpx.Response(503),
            _ok(),
        ]
    )
    limiter = LocalLimiter(cooldown=0.0)
    config = _config(backoff_cap=5.0)
    out = _complete(client, config, limiter=limiter, sleep=sleeps.append)
    assert out.attempts == 3 and len(seen) == 3
    assert sleeps[0] >= 2.0  # Retry-After honoured
    assert (
        limiter.limit(config.key, cap=config.max_concurrency) < config.max_concurrency
    )  # 429 lowered it


def test_timeouts_retry_then_give_up_as_transient():
    client, seen = _client([httpx.ReadTimeout("slow")] * 4)
    limiter = LocalLimiter(cooldown=0.0)
    config = _config(max_concurrency=8)
    with pytest.raises(TransientEndpointError, match="timeout"):
        _complete(client, config, limiter=limiter)
    assert len(seen) == 4
    assert limiter.limit(config.key, cap=8) == 1.0  # 8 -> 4 -> 2 -> 1 -> 1
    assert limiter.in_flight(config.key) == 0  # every lease given back


def test_permanent_errors_are_not_retried():
    client, seen = _client([httpx.Response(401, text="bad key"), _ok()])
    with pytest.raises(PermanentEndpointError, match="HTTP 401"):
        _complete(client)
    assert len(seen) == 1


MALFORMED_200 = [
    {"text": "not json"},
    {"text": '{"choices": [{"message": {"content": "cut off'},
    {"json": {"choices": []}},
    {"json": {"choices": [{"message": {"content": 7}}]}},
    {"json": {"choices": [{"message": {"content": "x"}}], "usage": "lots"}},
]


@pytest.mark.parametrize("body", MALFORMED_200)
def test_a_malformed_200_is_retried_like_a_5xx(body):
    client, seen = _client([httpx.Response(200, **body), _ok("fine")])
    out = _complete(client)
    assert out.text == "fine" and out.attempts == 2 and len(seen) == 2


def test_malformed_200s_give_up_as_transient_so_the_match_can_retry():
    client, seen = _client([httpx.Response(200, text="not json") for _ in range(4)])
    with pytest.raises(TransientEndpointError, match="did not return a chat completion"):
        _complete(client)
    assert len(seen) == 4


# --------------------------------------------------------------------------- validation


def fake_dns(mapping):
    return lambda host: mapping[host]


@pytest.mark.parametrize(
    "url,allow,needle",
    [
        ("ftp://api.example.com", False, "Expected an https:// URL"),
        ("https://", False, "no host"),
        ("https://user:pw@api.example.com/v1", False, "Credentials"),
        ("https://api.example.com/v1?x=1", False, "query string"),
        ("https://api.example.com:99999/v1", False, "Not a valid URL"),
        ("https://api.example.com:0/v1", False, "Port 0"),
        ("http://127.0.0.1:8000/v1", False, r"a loopback address \(127.0.0.1\)"),
        ("http://10.1.2.3/v1", False, r"a private address \(10.1.2.3\)"),
        ("http://169.254.169.254/latest", False, "link-local"),
        ("http://[::1]:8000/v1", False, r"a loopback address \(::1\)"),
        ("http://localhost:8000/v1", False, "internal name"),
        ("https://metadata.google.internal/v1", False, "internal name"),
        (
            "https://intranet.example.com/v1",
            False,
            r"resolves to a private address \(192.168.1.5\)",
        ),
    ],
)
def test_bad_endpoint_urls(url, allow, needle):
    dns = fake_dns({"api.example.com": ["93.184.216.34"], "intranet.example.com": ["192.168.1.5"]})
    with pytest.raises(ValueError, match=needle):
        validate_endpoint_url(url, allow_internal=allow, resolve=dns)


def test_https_only_when_asked():
    dns = fake_dns({"api.example.com": ["93.184.216.34"]})
    with pytest.raises(ValueError, match="Plain http is not allowed"):
        validate_endpoint_url("http://api.example.com/v1", require_https=True, resolve=dns)
    assert (
        validate_endpoint_url("http://api.example.com/v1", resolve=dns)
        == "http://api.example.com/v1"
    )


def test_good_endpoint_urls():
    dns = fake_dns({"api.example.com": ["93.184.216.34", "2606:2800:220:1::1"]})
    assert (
        validate_endpoint_url("https://api.example.com/v1/", resolve=dns)
        == "https://api.example.com/v1"
    )
    assert (
        validate_endpoint_url("http://127.0.0.1:9000/v1", allow_internal=True)
        == "http://127.0.0.1:9000/v1"
    )


@pytest.mark.parametrize(
    "params,needle",
    [
        ({"temperature": 3}, "temperature must be between 0 and 2"),
        ({"max_tokens": 0}, "max_tokens must be between 1 and 32768"),
        ({"timeout": -1}, "timeout must be between 1 and 600"),
        ({"top_p": 1.5}, "top_p must be between 0 and 1"),
        ({"seed": 0.5}, "seed must be an integer"),
        ({"temperature": "hot"}, "temperature must be a number"),
        ({"top_k": 5}, "unknown endpoint parameter"),
    ],
)
def test_endpoint_params_validation(params, needle):
    with pytest.raises(ValueError, match=needle):
        EndpointConfig.from_params(
            key="k",
            base_url="http://x/v1",
            model="m",
            api_key=None,
            params=params,
            max_concurrency=4,
        )


def test_api_key_encryption_round_trip():
    token = api_key_encrypt("sk-secret", secret_key="k1")
    assert "sk-secret" not in token
    assert api_key_decrypt(token, secret_key="k1") == "sk-secret"
    with pytest.raises(PermanentEndpointError, match="SECRET_KEY"):
        api_key_decrypt(token, secret_key="k2")


# --------------------------------------------------------------------------- simulated competitor


def test_simulated_answers_are_deterministic_and_driven_by_strength():
    kw = {"name": "x", "style": "thorough", "seed": 5, "prompt": "What is entropy?"}
    a = simulated_answer(strength=1100, **kw)
    assert a == simulated_answer(strength=1100, **kw)
    assert sim_quality(a.text) == pytest.approx(a.quality, abs=0.05)
    strong, weak = simulated_answer(strength=1300, **kw), simulated_answer(strength=900, **kw)
    assert strong.quality - weak.quality == pytest.approx(400, abs=0.2)  # same seed, same noise
    assert len(strong.text) > len(weak.text)
    other = simulated_answer(
        strength=1100, name="x", style="thorough", seed=5, prompt="What is enthalpy?"
    )
    assert other.quality != a.quality  # per-prompt noise


def test_a_long_retry_after_frees_the_thread_and_is_passed_on():
    sleeps = []
    client, seen = _client([httpx.Response(429, headers={"Retry-After": "120"}), _ok()])
    with pytest.raises(TransientEndpointError) as exc:
        _complete(client, _config(backoff_cap=5.0), sleep=sleeps.append)
    assert exc.value.retry_after == 120.0
    assert sleeps == [] and len(seen) == 1
