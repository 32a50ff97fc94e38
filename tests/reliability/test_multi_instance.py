"""Three ``gateway serve`` instances on one PostgreSQL database, as a scaled-out deployment runs.

The instances start together (their migrations queue behind one advisory lock), share the
test's loopback emulators as their providers, and are reached over HTTP only. What must hold:

- traffic spread across them, with provider faults forcing fallbacks, is logged exactly:
  one row per provider attempt (the emulators' own call count), one final row per request,
  no attempt twice;
- 64 requests racing across the instances for one team budget that fits ten worst cases
  admit exactly ten, refuse the rest with ``budget_exceeded``, and the settled spend never
  passes the budget;
- an instance killed with ``kill -9`` loses at most the usage-log batch it held in memory
  (``batch_max`` plus one flush interval of traffic), and the others keep serving.

The tests run in file order: the last one kills an instance.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx
import pytest
from dbq import one, rows
from gateway_fixtures import demo_env
from reliability_support import scaled
from served_gateway import ServedGateway

from gateway_core.emulators import start_emulators
from gateway_core.governance import Governance
from gateway_core.governance.budgets import to_usd
from gateway_core.usage import UsageLog

pytestmark = pytest.mark.timeout(scaled(600, 3600))

INSTANCES = 3
REQUESTS = scaled(1500, 6000)
RACERS = 64
FITS = 10  # the racing team's budget holds this many worst cases, and half of one more
STATIC_KEY = "gw-multi-instance-static-4821"
BODY = {"prompt": "Summarise the quarterly report in two sentences.", "max_tokens": 64}


@pytest.fixture(scope="module")
def emulators():
    with start_emulators(profile="zero") as emus:
        yield emus


@pytest.fixture(scope="module")
def shared_db(postgres_cluster):
    return postgres_cluster.new_schema()


@pytest.fixture(scope="module")
def instances(shared_db, emulators, tmp_path_factory):
    base = tmp_path_factory.mktemp("instances")
    env = demo_env(
        shared_db,
        GATEWAY_MODE="auto",  # live adapters, pointed at the shared emulators
        GATEWAY_API_KEYS=STATIC_KEY,
        GATEWAY_SDK_MAX_ATTEMPTS="1",  # each provider call is one logged attempt
        GATEWAY_TIMEOUT_S="30",
        AZURE_OPENAI_ENDPOINT=emulators.azure.url,
        AZURE_OPENAI_API_KEY="emulator",
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        BEDROCK_ENDPOINT_URL=emulators.bedrock.url,
    )
    served = []
    for i in range(INSTANCES):  # each starts on construction: all three migrate at once
        cwd = base / f"instance-{i}"
        cwd.mkdir()
        served.append(ServedGateway(env, cwd))
    try:
        for s in served:
            s.__enter__()
        yield served
    finally:
        for s in served:
            s.stop()


def _post(url: str, key: str, body: dict = BODY, timeout: float = 60) -> httpx.Response:
    return httpx.post(url + "/generate", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=timeout)


def _wait(check, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while not (found := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout_s:.0f} s")
        time.sleep(0.1)
    return found


def _provider_calls(emulators) -> int:
    return sum(e.stats()["requests"] for e in emulators.running().values())


def test_traffic_with_faults_across_instances_logs_one_row_per_attempt(instances, emulators, shared_db):
    emulators.azure.set_faults(status=503, error_rate=0.25, seed=7)
    emulators.bedrock.set_faults(status=500, error_rate=0.2, seed=8)
    for e in emulators.running().values():
        e.reset_stats()
    try:

        def one_request(i: int) -> tuple[int, str]:
            r = _post(instances[i % INSTANCES].url, STATIC_KEY, {**BODY, "prompt": f"request {i}: {BODY['prompt']}"})
            return r.status_code, r.headers["x-request-id"]

        with ThreadPoolExecutor(max_workers=24) as pool:
            outcomes = list(pool.map(one_request, range(REQUESTS)))
    finally:
        emulators.azure.clear_faults()
        emulators.bedrock.clear_faults()
    calls = _provider_calls(emulators)

    statuses = Counter(status for status, _ in outcomes)
    assert set(statuses) <= {200, 502}, statuses
    assert statuses[200] > REQUESTS // 2
    ids = {rid: status for status, rid in outcomes}
    assert len(ids) == REQUESTS, "request ids are unique across instances"

    def logged():
        found = rows(shared_db, "SELECT request_id, attempt, final, status FROM usage_logs WHERE synthetic = 0")
        mine = [r for r in found if r[0] in ids]
        return mine if sum(r[2] for r in mine) >= REQUESTS else None

    mine = _wait(logged, 60, "every request's final row")
    print(f"\nthree instances: {dict(statuses)} answers, {calls} provider attempts, {len(mine)} rows")
    keys = Counter((rid, attempt) for rid, attempt, _, _ in mine)
    assert max(keys.values()) == 1, "an attempt was logged twice"
    kinds = Counter(
        r for r in rows(shared_db, "SELECT provider, status, error_type, error_message FROM usage_logs WHERE status = 'error'")
    )
    assert len(mine) == calls, (
        f"{len(mine)} rows for {calls} provider attempts {kinds} {[e.stats() for e in emulators.running().values()]}"
    )
    assert len(mine) > REQUESTS, "the faults forced fallback attempts"
    per_request: dict[str, list[tuple]] = {}
    for rid, attempt, final, status in mine:
        per_request.setdefault(rid, []).append((attempt, final, status))
    for rid, attempts in per_request.items():
        attempts.sort()
        assert [a for a, _, _ in attempts] == list(range(1, len(attempts) + 1)), rid
        assert [f for _, f, _ in attempts] == [0] * (len(attempts) - 1) + [1], rid
        assert attempts[-1][2] == ("ok" if ids[rid] == 200 else "error"), rid


def _reservation_amount(shared_db) -> int | None:
    found = one(shared_db, "SELECT max(amount_q) FROM budget_reservations WHERE state = 'held'")
    return found[0] if found and found[0] else None


def _ledger(shared_db, scope: str) -> tuple[int, int]:
    return one(shared_db, "SELECT spent_q, reserved_q FROM budget_ledger WHERE scope = ?", (scope,)) or (0, 0)


def test_racing_for_one_budget_across_instances_admits_exactly_what_fits(instances, emulators, shared_db):
    with Governance.open(shared_db) as gov:
        gov.set_team("probe", budget_usd=Decimal(100))
        _, probe_key = gov.create_key(name="probe", team="probe")
        # Every provider call now takes 3 s, so each admitted request holds its reservation
        # while all the others are admitted or refused.
        emulators.azure.set_faults(extra_latency_ms=3000)
        emulators.bedrock.set_faults(extra_latency_ms=3000)
        try:
            # The worst case the gateway reserves for this request, read from the shared ledger.
            probe = threading.Thread(target=_post, args=(instances[0].url, probe_key))
            probe.start()
            worst_q = _wait(lambda: _reservation_amount(shared_db), 30, "the probe's reservation")
            probe.join(60)
            budget_q = FITS * worst_q + worst_q // 2
            gov.set_team("race", budget_usd=to_usd(budget_q))
            _, race_key = gov.create_key(name="racer", team="race")

            start = threading.Barrier(RACERS)

            def racer(i: int) -> httpx.Response:
                start.wait(60)
                return _post(instances[i % INSTANCES].url, race_key)

            with ThreadPoolExecutor(max_workers=RACERS) as pool:
                responses = list(pool.map(racer, range(RACERS)))
        finally:
            emulators.azure.clear_faults()
            emulators.bedrock.clear_faults()

    admitted = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code != 200]
    assert {r.status_code for r in refused} == {429}
    assert {r.json()["error"]["type"] for r in refused} == {"budget_exceeded"}, refused[0].text
    print(f"\nbudget race: {len(admitted)} admitted, {len(refused)} refused")
    assert len(admitted) == FITS
    spent_q, reserved_q = _wait(lambda: (lambda s: s if s[1] == 0 else None)(_ledger(shared_db, "team:race")), 30, "every settle")
    assert spent_q <= budget_q
    # Each instance's writer commits its batch a moment after answering: wait for every row.
    ids = [r.headers["x-request-id"] for r in admitted]

    def billed():
        costs = [one(shared_db, "SELECT sum(cost_usd) FROM usage_logs WHERE request_id = ?", (i,))[0] for i in ids]
        return None if None in costs else costs

    logged = sum((Decimal(str(c)) for c in _wait(billed, 30, "every admitted request's row")), Decimal(0))
    assert abs(to_usd(spent_q) - logged) < Decimal("1e-9") * FITS, "the budget holds exactly what was billed"


def test_an_instance_killed_with_sigkill_loses_at_most_its_batch(instances, shared_db):
    victim = instances[-1]
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    kill_after = scaled(300, 3000)
    started = time.monotonic()

    def client(n: int) -> None:
        i = 0
        while not stop.is_set():
            i += 1
            try:
                r = _post(victim.url, STATIC_KEY, {**BODY, "prompt": f"victim {n}-{i}"}, timeout=10)
            except httpx.TransportError:
                return
            if r.status_code == 200:
                with lock:
                    acknowledged.append(r.headers["x-request-id"])

    workers = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for w in workers:
        w.start()
    _wait(lambda: len(acknowledged) >= kill_after, 120, f"{kill_after} answered requests")
    victim.proc.kill()
    victim.proc.wait(30)
    stop.set()
    for w in workers:
        w.join(30)
    rate = len(acknowledged) / (time.monotonic() - started)

    ids = set(acknowledged)
    stored = {rid for (rid,) in rows(shared_db, "SELECT request_id FROM usage_logs WHERE final = 1") if rid in ids}
    batch_max = UsageLog.__init__.__kwdefaults__["batch_max"]
    flush_interval_s = UsageLog.__init__.__kwdefaults__["flush_interval_s"]
    bound = batch_max + math.ceil(rate * flush_interval_s)
    lost = len(ids - stored)
    print(f"\nkill -9: {len(ids)} answered, {len(stored)} stored, {lost} lost (bound {bound})")
    assert lost <= bound

    # The survivors keep serving and logging into the same database.
    for survivor in instances[:-1]:
        r = _post(survivor.url, STATIC_KEY)
        assert r.status_code == 200
        rid = r.headers["x-request-id"]
        _wait(lambda rid=rid: one(shared_db, "SELECT count(*) FROM usage_logs WHERE request_id = ?", (rid,))[0], 30, "the row")
