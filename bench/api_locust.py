"""The locust user for `lendstack bench api`: POST /v1/applications (one decision each), a unique
application id and Idempotency-Key per request. Run by bench/api.py in its own process; writes every
request's latency and status to BENCH_API_OUT when locust quits.

BENCH_API_USER_RPS > 0: each user paces itself at that rate (open-ish loop, constant throughput);
0: each user sends its next request as soon as the last one returns (closed loop, saturation).

Paced users keep their own schedule (a request every 1/rate s from a random first phase) instead
of locust's constant_throughput: that one measures its period from the moment the user was
spawned, and locust spawns all users within a few milliseconds, so "100 users at 1 req/s" arrived
as one burst of 100 requests every second. That measured how long a burst takes to drain (p50
~300 ms on a server idle a third of the time), not latency at 100 req/s. With random phases the
arrivals within a second are uniform and independent, close to a Poisson stream at the target rate.
A user whose response came after its next slot sends at once (the offered load stays the rate)."""

from __future__ import annotations

import itertools
import json
import os
import random
import time
from pathlib import Path
from typing import Any

from locust import FastHttpUser, events, task

DOCUMENTS: list[dict[str, Any]] = json.loads(Path(os.environ["BENCH_API_DOCS"]).read_text())
TOKEN = os.environ["BENCH_API_TOKEN"]
RUN = os.environ["BENCH_API_RUN"]
USER_RPS = float(os.environ.get("BENCH_API_USER_RPS", "0"))
# The saturation run starts where the paced run stopped: every request is a new application.
_NUMBERS = itertools.count(int(os.environ.get("BENCH_API_OFFSET", "0")))
_SAMPLES: list[tuple[float, float, int]] = []  # (ended at s, latency ms, status; 0 = no response)
_PHASES = random.Random(int(os.environ.get("BENCH_API_OFFSET", "0")) + 7)  # seeded: the same run twice


def _document(number: int) -> dict[str, Any]:
    document = DOCUMENTS[number % len(DOCUMENTS)]
    if number < len(DOCUMENTS):
        return document
    return {**document, "application_id": f"{document['application_id']}-{RUN}-{number}"}  # a re-used applicant


class Applicant(FastHttpUser):
    _next_s = 0.0  # when this user's next request is due (time.monotonic)

    def on_start(self) -> None:
        if USER_RPS > 0:
            self._next_s = time.monotonic() + _PHASES.uniform(0.0, 1.0 / USER_RPS)  # see the module docstring
            time.sleep(max(0.0, self._next_s - time.monotonic()))  # gevent's: locust patched time

    def wait_time(self) -> float:
        if USER_RPS <= 0:
            return 0.0  # closed loop
        self._next_s += 1.0 / USER_RPS
        return max(0.0, self._next_s - time.monotonic())

    @task
    def apply(self) -> None:
        number = next(_NUMBERS)
        headers = {"Authorization": f"Bearer {TOKEN}", "Idempotency-Key": f"{RUN}-{number}"}
        with self.client.post("/v1/applications", json=_document(number), headers=headers,
                              catch_response=True) as response:
            if response.status_code != 201:
                response.failure(f"status {response.status_code}")


@events.request.add_listener
def _record(response_time: float, response: Any = None, exception: Any = None, **_kwargs: Any) -> None:
    status = 0 if exception is not None and response is None else int(getattr(response, "status_code", 0) or 0)
    _SAMPLES.append((time.time(), float(response_time), status))


@events.quitting.add_listener
def _dump(**_kwargs: Any) -> None:
    Path(os.environ["BENCH_API_OUT"]).write_text(json.dumps(_SAMPLES))
