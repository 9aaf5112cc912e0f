"""A local server speaking the OpenAI chat-completions API, for tests and benchmarks.

``POST /v1/chat/completions`` answers as a simulated competitor (the ``model`` names an
entry of ``models``: strength, style, seed) or, when the system message is a Ludus judge
rubric, as the simulated judge. It can add latency and inject faults: 429 with
``Retry-After``, 500, timeouts (it sleeps past the client's timeout), malformed answers
(HTTP 200 whose body is not JSON) and malformed judge output. Faults are drawn per request
with a seeded generator, but one request (same body) fails at most ``max_faults_per_request``
times, so a client that retries enough always gets through and the end result is deterministic.

Usage::

    server = FakeOpenAI(models={"m1": (1100.0, "concise", 1)}, latency=0.2)
    server.start()          # a daemon thread on 127.0.0.1, random port
    server.base_url         # http://127.0.0.1:PORT/v1
    server.stop()
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from clients import JudgeSpec, simulated_answer, simulated_judge_reply


@dataclass
class FaultPlan:
    """Per-request fault probabilities (checked in this order) and limits."""

    p_429: float = 0.0
    p_500: float = 0.0
    p_timeout: float = 0.0
    p_malformed: float = 0.0
    p_garbage_verdict: float = 0.0
    retry_after: float = 0.2
    timeout_sleep: float = 3.0
    #: the client's timeout (seconds after the latency), for per-model in-flight counts
    client_timeout: float | None = None
    max_faults_per_request: int = 2
    seed: int = 0
    #: Faults given, in this order, to the first requests that may take them (so a test sees
    #: each kind at least once whatever the random draws); ``garbage`` waits for a judge request.
    forced: tuple[str, ...] = ()


@dataclass
class ServerStats:
    requests: int = 0
    ok: int = 0
    faults: dict[str, int] = field(
        default_factory=lambda: {"429": 0, "500": 0, "timeout": 0, "malformed": 0, "garbage": 0}
    )
    in_flight: int = 0
    max_in_flight: int = 0
    generations_in_flight: int = 0
    max_generations_in_flight: int = 0
    judge_requests: int = 0
    #: per model, not counting requests the client abandoned at its timeout
    in_flight_by_model: dict[str, int] = field(default_factory=dict)
    max_in_flight_by_model: dict[str, int] = field(default_factory=dict)


class FakeOpenAI:
    """The server; see the module docstring."""

    def __init__(
        self,
        *,
        models: dict[str, tuple[float, str, int]],
        latency: float = 0.0,
        faults: FaultPlan | None = None,
        judge: JudgeSpec | None = None,
        api_key: str | None = None,
    ) -> None:
        self.models = dict(models)
        self.latency = latency
        self.faults = faults or FaultPlan()
        self.judge = judge or JudgeSpec(name="fake-judge")
        self.api_key = api_key
        self.stats = ServerStats()
        self._lock = threading.Lock()
        self._rng = random.Random(self.faults.seed)
        self._fault_count: dict[str, int] = {}
        self._forced = list(self.faults.forced)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._samples: list[int] = []
        #: the JSON body of every chat-completion request, in arrival order
        self.bodies: list[dict[str, Any]] = []

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the server first"
        host, port = self._server.server_address[:2]
        assert isinstance(host, str)
        return f"http://{host}:{port}/v1"

    def start(self, *, port: int = 0) -> FakeOpenAI:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                owner._handle(self)

            def do_GET(self) -> None:  # noqa: N802
                if self.path.rstrip("/") == "/stats":
                    owner._send(self, 200, owner.stats_dict())
                else:
                    owner._send(self, 404, {"error": {"message": "not found"}})

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._server.request_queue_size = 1024
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fake-openai", daemon=True
        )
        self._thread.start()
        threading.Thread(target=self._sample, name="fake-openai-sampler", daemon=True).start()
        return self

    def stats_dict(self) -> dict[str, Any]:
        """Counters so far, plus the time-averaged generations in flight while any was."""
        with self._lock:
            busy = [n for n in self._samples if n > 0]
            return {
                "requests": self.stats.requests,
                "ok": self.stats.ok,
                "faults": dict(self.stats.faults),
                "judge_requests": self.stats.judge_requests,
                "max_in_flight": self.stats.max_in_flight,
                "max_generations_in_flight": self.stats.max_generations_in_flight,
                "mean_generations_in_flight_when_busy": sum(busy) / len(busy) if busy else 0.0,
            }

    def _sample(self) -> None:
        while self._server is not None:
            with self._lock:
                self._samples.append(self.stats.generations_in_flight)
            time.sleep(0.01)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # ------------------------------------------------------------------ handling

    def _fault_for(self, signature: str, is_judge: bool) -> str | None:
        plan = self.faults
        with self._lock:
            if self._fault_count.get(signature, 0) >= plan.max_faults_per_request:
                return None
            kind = None
            if self._forced and (self._forced[0] != "garbage" or is_judge):
                kind = self._forced.pop(0)
                self._fault_count[signature] = self._fault_count.get(signature, 0) + 1
                self.stats.faults[kind] += 1
                return kind
            u = self._rng.random()
            for name, p in (
                ("429", plan.p_429),
                ("500", plan.p_500),
                ("timeout", plan.p_timeout),
                ("malformed", plan.p_malformed),
                ("garbage", plan.p_garbage_verdict if is_judge else 0.0),
            ):
                if u < p:
                    kind = name
                    break
                u -= p
            if kind is not None:
                self._fault_count[signature] = self._fault_count.get(signature, 0) + 1
                self.stats.faults[kind] += 1
            return kind

    def _send(
        self,
        handler: BaseHTTPRequestHandler,
        status: int,
        body: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> None:
        self._send_raw(handler, status, json.dumps(body).encode(), "application/json", headers)

    def _send_raw(
        self,
        handler: BaseHTTPRequestHandler,
        status: int,
        data: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", content_type)
            handler.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                handler.send_header(k, v)
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length)
        if handler.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
            self._send(handler, 404, {"error": {"message": "not found"}})
            return
        if self.api_key and handler.headers.get("Authorization") != f"Bearer {self.api_key}":
            self._send(handler, 401, {"error": {"message": "bad api key"}})
            return
        try:
            body = json.loads(raw)
            model = body["model"]
            messages = body["messages"]
        except (ValueError, KeyError):
            self._send(handler, 400, {"error": {"message": "expected model and messages"}})
            return
        is_judge = any(
            m.get("role") == "system" and "judge" in m.get("content", "") for m in messages
        )
        if not is_judge and model not in self.models:
            self._send(handler, 404, {"error": {"message": f"unknown model {model}"}})
            return
        with self._lock:
            self.bodies.append(body)
            self.stats.requests += 1
            self.stats.in_flight += 1
            self.stats.max_in_flight = max(self.stats.max_in_flight, self.stats.in_flight)
            if is_judge:
                self.stats.judge_requests += 1
            else:
                self.stats.generations_in_flight += 1
                self.stats.max_generations_in_flight = max(
                    self.stats.max_generations_in_flight, self.stats.generations_in_flight
                )
            n = self.stats.in_flight_by_model.get(model, 0) + 1
            self.stats.in_flight_by_model[model] = n
            self.stats.max_in_flight_by_model[model] = max(
                self.stats.max_in_flight_by_model.get(model, 0), n
            )
        abandoned = False
        try:
            signature = hashlib.sha256(raw).hexdigest()
            fault = self._fault_for(signature, is_judge)
            if self.latency:
                time.sleep(self.latency)
            if fault == "429":
                self._send(
                    handler,
                    429,
                    {"error": {"message": "rate limited"}},
                    {"Retry-After": f"{self.faults.retry_after:g}"},
                )
                return
            if fault == "500":
                self._send(handler, 500, {"error": {"message": "internal error"}})
                return
            if fault == "malformed":
                self._send_raw(
                    handler, 200, b"<html><body>upstream hiccup</body></html>", "text/html"
                )
                return
            if fault == "timeout":
                # the client gives up at its timeout: from then on the request is not in flight
                # for it
                waited = min(self.faults.client_timeout or 0.0, self.faults.timeout_sleep)
                time.sleep(waited)
                with self._lock:
                    self.stats.in_flight_by_model[model] -= 1
                    abandoned = True
                time.sleep(self.faults.timeout_sleep - waited)
                self._send(handler, 504, {"error": {"message": "too slow"}})
                return
            if is_judge:
                text = simulated_judge_reply(
                    messages,
                    judge=self.judge,
                    slot_key=signature[:16],
                    require_confidence="Confidence:" in messages[0]["content"],
                )
                if fault == "garbage":
                    text = "I think both are fine, really. Verdict: A is better maybe."
            else:
                strength, style, seed = self.models[model]
                prompt = next(
                    (m["content"] for m in reversed(messages) if m.get("role") == "user"), ""
                )
                text = simulated_answer(
                    name=model, strength=strength, style=style, seed=seed, prompt=prompt
                ).text
            prompt_tokens = sum(len(m.get("content", "").split()) for m in messages)
            self._send(
                handler,
                200,
                {
                    "id": "chatcmpl-" + signature[:12],
                    "object": "chat.completion",
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {
                        "prompt_tokens": prompt_tokens,
                        "completion_tokens": len(text.split()),
                        "total_tokens": prompt_tokens + len(text.split()),
                    },
                },
            )
            with self._lock:
                self.stats.ok += 1
        finally:
            with self._lock:
                self.stats.in_flight -= 1
                if not abandoned:
                    self.stats.in_flight_by_model[model] -= 1
                if not is_judge:
                    self.stats.generations_in_flight -= 1


def main() -> None:
    """Serve in the foreground: ``python -m tests.fake_openai --port 8765 --models 64``."""
    import argparse

    parser = argparse.ArgumentParser(
        description="A local OpenAI-compatible server of simulated models and judge."
    )
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--models", type=int, default=16, help="serve models sim-00 .. sim-NN")
    parser.add_argument("--prefix", default="sim-")
    args = parser.parse_args()
    models = {
        f"{args.prefix}{i:02d}": (1400.0 - 12.0 * i, "concise", i) for i in range(args.models)
    }
    server = FakeOpenAI(models=models, latency=args.latency).start(port=args.port)
    print(f"serving {len(models)} models at {server.base_url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
