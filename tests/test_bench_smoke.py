"""The benchmarks run at tiny sizes and write well-formed results, so they cannot rot unnoticed.

Nothing here asserts a timing: speed is measured by ``python -m bench`` and judged by a
person reading its ratios, never by a test on a shared machine. What is asserted is what
a reader of ``bench/results`` relies on: every benchmark runs, states its targets, records
the machine it ran on, and counts what it wrote.
"""

from __future__ import annotations

import json
import math

import pytest

from bench import common, report
from bench.__main__ import main as bench_main
from bench.registry import BENCHMARKS


def _finite_numbers(value, path="metrics"):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _finite_numbers(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _finite_numbers(v, f"{path}[{i}]")
    elif isinstance(value, float):
        yield path, value


def _b1_logs_every_call_it_made(result):
    sizes, e2e = result["sizes"], result["metrics"]["end_to_end"]
    # Each provider: one equality check, the warm-up and the timed calls, all logged.
    assert e2e["rows_logged"] == 2 * (sizes["calls"] + sizes["warmup"] + 1)
    for provider in ("azure", "bedrock"):
        assert e2e[provider]["gateway_ms"]["n"] == e2e[provider]["direct_ms"]["n"] == sizes["calls"]


def _b4_counts_rows_from_threads_and_processes(result):
    sizes, metrics = result["sizes"], result["metrics"]
    assert metrics["threads"]["rows_written"] == sizes["thread_rows"]
    assert metrics["processes"]["rows_written"] == sizes["process_rows"]
    assert metrics["baseline_insert_commit_per_row"]["rows_written"] == sizes["baseline_rows"]
    pg = metrics["postgresql"]
    assert sorted(pg["order"]) == sorted(["threads", "processes", "copy_direct", "copy_staged", "executemany", "baseline"])
    assert pg["threads"]["rows_lost"] == pg["processes"]["rows_lost"] == 0
    assert pg["copy_direct"]["rows_stored"] == pg["copy_staged"]["rows_stored"] == sizes["pg_rows"]


def _b6_every_api_response_was_200(result):
    for name, m in result["metrics"].items():
        if name.startswith("api_"):
            assert set(m["concurrent"]["statuses"]) == {"200"}
            # At concurrency 1 the SDK raises on anything but a 2xx, so n calls made is n answered.
            for arm in ("direct", "gateway /v1", "healthz"):
                assert m["sequential"][arm]["n"] == result["sizes"]["sequential"]


def _b8_every_settle_reached_the_budget_ledger(result):
    metrics = result["metrics"]
    assert metrics["strict_team_spent_usd"] == metrics["strict_team_spent_expected_usd"] > 0
    gateway = metrics["gateway"]
    assert gateway["rows_logged"] == gateway["rows_expected"] > 0  # every gateway call answered and was logged


def _b9_warm_arm_never_missed_the_cache(result):
    sizes, metrics = result["sizes"], result["metrics"]
    # Each distinct input is decided once before timing; every timed warm call is a hit.
    assert metrics["cache"]["misses"] == sizes["distinct_inputs"]
    assert metrics["us"]["warm"]["n"] == metrics["us"]["none"]["n"] == sizes["rounds"]
    # Through Gateway.generate: every call answered under the policy, from its cache after the first.
    gateway = metrics["gateway"]
    assert gateway["per_request_us"]["policy"]["n"] == gateway["per_request_us"]["none"]["n"] == sizes["gw_rounds"]
    assert gateway["cache"]["hits"] >= sizes["gw_rounds"] and gateway["decision"]["denied"] == []


def _b10_every_span_reached_the_receiver(result):
    sizes, exports = result["sizes"], result["metrics"]["exports"]
    assert exports["requests_dropped"] == 0 and exports["rejected"] == 0
    assert exports["spans"] == exports["spans_expected"] == 3 * sum(sizes[k] for k in ("rounds", "warmup", "burst"))
    through = result["metrics"]["gateway"]["exports"]
    requests = sum(sizes[k] for k in ("gw_rounds", "warmup", "burst"))
    assert through["requests_dropped"] == {"on": 0, "sampled": 0} and through["rejected"] == 0
    assert through["spans_on"] == through["spans_on_expected"] == 2 * requests
    # Head sampling at 10% keeps some traces and drops most (whole traces: an even count).
    assert 0 < through["spans_sampled"] < 0.3 * through["spans_on"] and through["spans_sampled"] % 2 == 0


def _b11_every_scenario_replayed_the_same_requests(result):
    for m in result["metrics"]["by_requests"].values():
        assert m["requests_replayed"] > 0 and m["python_rank"]["sampled_requests"] > 0
        assert {s["n"] for s in m["replay_ms"].values()} == {result["sizes"]["rounds"]}


SPECIFIC_CHECKS = {
    "B1": _b1_logs_every_call_it_made,
    "B4": _b4_counts_rows_from_threads_and_processes,
    "B6": _b6_every_api_response_was_200,
    "B8": _b8_every_settle_reached_the_budget_ledger,
    "B9": _b9_warm_arm_never_missed_the_cache,
    "B10": _b10_every_span_reached_the_receiver,
    "B11": _b11_every_scenario_replayed_the_same_requests,
}


@pytest.fixture
def smoke_config(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    return common.Config(mode="smoke", results_dir=tmp_path / "results", work_dir=work, quiet=True)


@pytest.mark.parametrize("module", BENCHMARKS, ids=lambda m: m.ID)
def test_benchmark_runs_and_writes_a_well_formed_result(module, smoke_config, request, monkeypatch):
    if module.ID == "B4":  # its PostgreSQL arm uses the session's server, not a cluster of its own
        monkeypatch.setenv("GATEWAY_BENCH_PG_URL", request.getfixturevalue("postgres_cluster").url())
    result = module.run(smoke_config)
    path = common.write_result(result, smoke_config.results_dir)
    loaded = json.loads(path.read_text())

    assert path.name == f"{module.NAME}.json"
    assert (loaded["benchmark"], loaded["mode"]) == (module.ID, "smoke")
    assert loaded["date"] and loaded["duration_s"] > 0
    machine = loaded["machine"]
    assert machine["cores"] >= 1 and machine["python"].startswith("3.")
    assert {"openai", "boto3", "duckdb", "streamlit", "fastapi"} <= set(machine["packages"])
    assert loaded["sizes"], "the sizes used are recorded"
    assert loaded["targets"], "every benchmark states what it aims for"
    for target in loaded["targets"]:
        assert isinstance(target["pass"], bool)
        assert target["value"] is not None and target["target"].startswith(("<=", ">="))
    assert loaded["pass"] == all(t["pass"] for t in loaded["targets"])
    assert not [p for p, v in _finite_numbers(loaded["metrics"]) if not math.isfinite(v)]
    SPECIFIC_CHECKS.get(module.ID, lambda r: None)(loaded)


def test_percentile_interpolates_between_samples():
    samples = [4.0, 1.0, 3.0, 2.0]
    assert common.percentile(samples, 50) == 2.5
    assert common.percentile(samples, 0) == 1.0 and common.percentile(samples, 100) == 4.0
    assert common.summarize([5.0])["p99"] == 5.0
    assert common.summarize([]) == {"n": 0}


def test_target_direction_decides_pass_or_miss():
    assert common.Target("latency", 0.2, 0.3, "ms").met
    assert not common.Target("latency", 0.4, 0.3, "ms").met
    assert common.Target("rows/s", 60_000, 50_000, "rows/s", at_least=True).met
    assert not common.Target("rows/s", 40_000, 50_000, "rows/s", at_least=True).met
    assert not common.Target("missing", None, 1, "ms").met


def test_summary_table_marks_missed_targets():
    result = {"benchmark": "B9", "targets": [common.Target("p50", 2.0, 1.0, "ms").to_dict()]}
    table = report.summary_table([result])
    assert "| B9 | p50 | 2 ms | <= 1 ms | MISSED |" in table


def test_cli_rejects_an_unknown_benchmark_id(tmp_path):
    with pytest.raises(SystemExit, match="B99"):
        bench_main(["--smoke", "--only", "B99", "--results-dir", str(tmp_path)])
