"""``/readyz``: 200 when a request would be served and recorded, 503 with every reason when
not; ``/healthz`` stays a cheap liveness answer; and the container probes use the right one."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml
from dbq import execute
from gateway_fixtures import HAIKU, demo_env

from gateway_core import AllProvidersFailed, GenerateRequest, Settings
from gateway_core.api import create_app
from gateway_core.gateway import Gateway
from gateway_core.usage.schema import connect

from .conftest import Served

ROOT = Path(__file__).resolve().parents[2]


def test_readyz_is_200_with_the_log_counts_when_all_is_well(http):
    r = http.get("/readyz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ready" and body["reasons"] == []
    assert body["usage_log"]["state"] == "ok" and body["usage_log"]["lost_total"] == 0
    assert http.get("/healthz").json()["status"] == "ok"


def test_both_probes_answer_without_a_key_when_keys_are_required(tmp_path):
    settings = Settings.from_mapping(demo_env(tmp_path / "log.sqlite", GATEWAY_API_KEYS="probe-test-key-1"))
    with Served(create_app(settings=settings)) as s:
        assert httpx.get(s.url + "/readyz").status_code == 200
        assert httpx.get(s.url + "/healthz").status_code == 200
        assert httpx.get(s.url + "/v1/models").status_code == 401


class Clock:
    now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_readyz_is_503_while_every_breaker_is_open_and_200_once_one_may_probe(tmp_path):
    clock = Clock()
    env = demo_env(
        tmp_path / "log.sqlite", GATEWAY_SDK_MAX_ATTEMPTS="1", AZURE_OPENAI_DEPLOYMENT="gpt-4o-mini", BEDROCK_MODEL_ID=HAIKU
    )
    gw = Gateway(Settings.from_mapping(env), clock=clock)
    gw.emulators.azure.set_faults(status=503)
    gw.emulators.bedrock.set_faults(status=503)
    try:
        with Served(create_app(gw)) as s:
            for i in range(20):
                if not gw.readiness().ready:
                    break
                with pytest.raises(AllProvidersFailed):
                    gw.generate(GenerateRequest(prompt=f"outage {i}"))
            r = httpx.get(s.url + "/readyz")
            assert r.status_code == 503
            (reason,) = r.json()["reasons"]
            assert reason["check"] == "providers" and set(reason["breakers"].values()) == {"open"}
            assert httpx.get(s.url + "/healthz").status_code == 200, "liveness does not depend on providers"

            gw.emulators.azure.clear_faults()
            clock.now += gw.breaker.cooldown_s + 1
            assert httpx.get(s.url + "/readyz").status_code == 200, "a breaker that may probe again is usable"
    finally:
        gw.close()


def _probe(url: str) -> int:
    env = {**os.environ, "GATEWAY_HEALTH_URL": url}
    return subprocess.run([sys.executable, str(ROOT / "docker" / "healthcheck.py")], env=env, timeout=30).returncode


def test_the_container_probe_fails_while_the_log_cannot_write_and_passes_after(tmp_path):
    db = tmp_path / "log.sqlite"
    gw = Gateway(Settings.from_mapping(demo_env(db, GATEWAY_DB_BUSY_TIMEOUT_S="0.1")))
    blocker = connect(db)
    try:
        with Served(create_app(gw)) as s:
            blocker.execute("BEGIN IMMEDIATE")
            gw.generate(GenerateRequest(prompt="recorded later"))
            assert gw.usage_log.flush()
            assert _probe(s.url + "/readyz") == 1 and _probe(s.url + "/healthz") == 0
            blocker.execute("ROLLBACK")
            deadline = 50
            while _probe(s.url + "/readyz") != 0 and deadline:
                deadline -= 1
            assert deadline, "the probe never passed after the lock was released"
    finally:
        if blocker.in_transaction:
            blocker.execute("ROLLBACK")
        blocker.close()
        gw.close()


def test_readyz_is_503_while_the_governance_tables_cannot_be_read_and_200_after_on_either_database(db_target):
    gw = Gateway(Settings.from_mapping(demo_env(db_target)))
    try:
        with Served(create_app(gw)) as s:
            assert httpx.get(s.url + "/readyz").status_code == 200
            execute(db_target, "ALTER TABLE budget_ledger RENAME TO budget_ledger_away")
            r = httpx.get(s.url + "/readyz")
            assert r.status_code == 503
            (reason,) = [x for x in r.json()["reasons"] if x["check"] == "governance"]
            assert "governance storage" in reason["message"]
            execute(db_target, "ALTER TABLE budget_ledger_away RENAME TO budget_ledger")
            assert httpx.get(s.url + "/readyz").status_code == 200
    finally:
        gw.close()


def test_compose_probes_the_api_readiness_and_the_console_health():
    compose = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())
    services = compose["services"]
    assert services["api"]["environment"]["GATEWAY_HEALTH_URL"].endswith(":8000/readyz")
    assert "serve" in services["api"]["command"]
    assert services["console"]["environment"]["GATEWAY_HEALTH_URL"].endswith(":8501/_stcore/health")
    assert all("gateway-data:/data" in services[name]["volumes"] for name in ("api", "console"))
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    assert "8000/readyz" in dockerfile and "8000/healthz" not in dockerfile


def _compose_defaults(text: str) -> str:
    """``text`` as compose reads it with none of its variables set: each ``${VAR:-default}`` is its default."""
    while m := re.search(r"\$\{[A-Z_]+:-([^${}]*)\}", text):
        text = text[: m.start()] + m.group(1) + text[m.end() :]
    return text


def test_compose_runs_both_gateway_services_on_its_postgresql_and_checks_every_service_health():
    compose = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"db", "api", "console"}
    assert all(svc.get("healthcheck", {}).get("test") for svc in services.values()), "every service has a health check"
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    assert "db-data:/var/lib/postgresql/data" in services["db"]["volumes"] and "db-data" in compose["volumes"]
    for name in ("api", "console"):
        url = _compose_defaults(services[name]["environment"]["GATEWAY_DB_URL"])
        assert url == "postgresql://gateway:gateway@db:5432/gateway"
        assert Settings.from_mapping({"GATEWAY_DB_URL": url}).database() == url
        assert services[name]["depends_on"]["db"]["condition"] == "service_healthy"
        assert services[name]["healthcheck"]["test"] == ["CMD", "python", "/opt/gateway/healthcheck.py"]
