"""`lendstack bench decide`: online decision latency (parse + gather + cross-check + fraud + score +
price + limit + decide, in-process, in-memory fraud context, no database) over 10,000 simulated
applications; batch decisions per second; backtest rows per second over 1,000,000 applications."""

from __future__ import annotations

import gc
import time
from typing import Any

import numpy as np

from lendstack.decisioning import backtest, decide, load_policy
from lendstack.decisioning.backtest import decide_frame, score_frame
from lendstack.fraud import MemoryFraudContext, run_fraud_checks
from lendstack.origination import cross_check, embedded_connectors, features_row, gather, parse_application
from lendstack.services.models import scoring_model
from lendstack.sim import generate_applications, to_application_json

ONLINE_ROWS = 10_000
BATCH_ROWS = 200_000
BACKTEST_ROWS = 1_000_000


def _say(progress: bool, message: str) -> None:
    if progress:
        print(message, flush=True)


def _decide_one(document: dict[str, Any], connectors: Any, context: Any, policy: Any, model: Any) -> Any:
    application = parse_application(document)
    bundle = gather(application, connectors, timeout_s=0.2)
    flags = [*cross_check(application, bundle), *run_fraud_checks(application, bundle, context)]
    return decide(application, bundle, flags, features_row(application, bundle), policy, model)


def _online(progress: bool) -> dict[str, float]:
    policy, model = load_policy("consumer_v1"), scoring_model(progress=(lambda m: _say(progress, m)))
    documents = [to_application_json(row) for row in generate_applications(ONLINE_ROWS, seed=31).iter_rows(named=True)]
    connectors, context = embedded_connectors(), MemoryFraudContext()
    for document in documents[:200]:  # warm-up: the compiled forest, numba kernels and explainer are built lazily
        _decide_one(document, connectors, context, policy, model)
    latencies: list[float] = []
    outcomes: dict[str, int] = {}
    gc.disable()  # measure the decision, not a collector pause that lands in one of them
    try:
        for index, document in enumerate(documents):
            started = time.perf_counter()
            decision = _decide_one(document, connectors, context, policy, model)
            latencies.append((time.perf_counter() - started) * 1000)
            outcomes[decision.outcome] = outcomes.get(decision.outcome, 0) + 1
            if index % 2000 == 1999:
                gc.collect()
                _say(progress, f"online: {index + 1:,} decisions")
    finally:
        gc.enable()
    values = np.array(latencies)
    return {"decide_ms_p50": float(np.percentile(values, 50)), "decide_ms_p99": float(np.percentile(values, 99)),
            "decide_ms_max": float(values.max()), "online_decisions": float(len(values)),
            **{f"online_{k}_share": v / len(values) for k, v in sorted(outcomes.items())}}


def _batch(progress: bool) -> dict[str, float]:
    policy, model = load_policy("consumer_v1"), scoring_model()
    frame = generate_applications(BATCH_ROWS, seed=32)
    started = time.perf_counter()
    decide_frame(frame, policy, score_frame(frame, model))
    elapsed = time.perf_counter() - started
    _say(progress, f"batch: {BATCH_ROWS:,} decisions in {elapsed:.1f} s")
    return {"batch_decisions_per_s": BATCH_ROWS / elapsed}


def _backtest(progress: bool) -> dict[str, float]:
    frame = generate_applications(BACKTEST_ROWS, seed=33)
    started = time.perf_counter()
    report = backtest(frame, load_policy("consumer_v1"), scoring_model(), load_policy("consumer_v2"))
    elapsed = time.perf_counter() - started
    _say(progress, f"backtest: {BACKTEST_ROWS:,} applications, two policies, in {elapsed:.1f} s")
    approval = report["policies"]["consumer@1"]["overall"]["approval_rate"]
    return {"backtest_rows": float(BACKTEST_ROWS), "backtest_s": elapsed,
            "backtest_rows_per_s": BACKTEST_ROWS / elapsed,
            "backtest_approval_rate_v1": approval}


def run(progress: bool = True) -> dict[str, Any]:
    return {**_online(progress), **_batch(progress), **_backtest(progress)}
