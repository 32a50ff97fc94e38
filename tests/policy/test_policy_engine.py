"""The in-process engine with the real regopy: loading, refusing bad policies, caching, reloading, failing closed."""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from gateway_core.errors import ConfigError
from gateway_core.governance.policy import FAIL_CLOSED_MESSAGE, PolicyError, PolicySettings, load_policy
from gateway_core.governance.policy_rego import RegoPolicy

HEAD = "package gateway.routing\n\n"


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def request(**fields):
    base = {"task": "chat", "priority": "balanced", "pii": [], "prompt_chars": 100, "model": None}
    return {
        "principal": {"key": "k", "team": "t", "user": "u"},
        "request": {**base, **fields},
        "candidates": [{"provider": "azure", "model": "m", "region": "eu"}],
        "time": {"hour_utc": 9, "weekday": "Monday"},
    }


@pytest.mark.parametrize(
    "text, line, reason",
    [
        (HEAD + 'deny contains "x" if {\n  input.a ==\n}\n', 4, "Invalid boolean operator"),
        (HEAD + "# café\nredact if {\n  x := \n}\n", 5, "Invalid assignment operator"),
        (HEAD + "deny contains m if {\n  m := no_such_fn(1)\n}\n", 4, "unknown function no_such_fn()"),
        (HEAD + "default redact := false\nredact if input.a\ndefault redact := true\n", 5, "default redact is declared twice"),
        ("package gateway.elsewhere\n\nredact := true\n", None, "no file declares package gateway.routing"),
        ("", None, "no file declares package gateway.routing"),
    ],
    ids=["syntax", "line-after-non-ascii", "unknown-function", "two-defaults", "wrong-package", "empty-file"],
)
def test_a_policy_that_does_not_load_names_the_file_and_line(tmp_path, text, line, reason):
    path = write(tmp_path / "broken.rego", text)
    with pytest.raises(PolicyError) as err:
        RegoPolicy(path)
    assert (err.value.path, err.value.line) == (str(path), line)
    assert reason in err.value.reason
    assert err.value.message.startswith(f"GATEWAY_POLICY_FILE: {path}")


def test_a_broken_policy_in_a_directory_is_named_and_stops_start_up(tmp_path):
    write(tmp_path / "a.rego", HEAD + "default redact := false\n")
    write(tmp_path / "b.rego", HEAD + 'deny contains "x" if input.a\n\ndefault redact := true\n')
    write(tmp_path / "b_test.rego", "this is an OPA test file and is skipped")
    with pytest.raises(ConfigError) as err:
        load_policy(PolicySettings.from_mapping({"GATEWAY_POLICY_FILE": str(tmp_path)}))
    assert err.value.variable == "GATEWAY_POLICY_FILE"
    expected = f"{tmp_path / 'b.rego'}:5: default redact is declared twice (also at {tmp_path / 'a.rego'}:3)"
    assert expected in err.value.message


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda d: d / "missing.rego", "no such file or directory"),
        (lambda d: d, "holds no .rego files"),
        (
            lambda d: write(d / "latin1.rego", "").write_bytes(b"package gateway.routing\n# caf\xe9\n") and d / "latin1.rego",
            "not UTF-8",
        ),
    ],
)
def test_a_policy_path_that_cannot_be_read_is_refused(tmp_path, make, reason):
    with pytest.raises(PolicyError, match=reason):
        RegoPolicy(make(tmp_path))


def test_version_is_a_hash_of_the_policy_content(tmp_path):
    one = write(tmp_path / "p.rego", HEAD + "redact := true\n")
    (tmp_path / "copy").mkdir()
    same = write(tmp_path / "copy" / "p.rego", HEAD + "redact := true\n")
    other = write(tmp_path / "q.rego", HEAD + "redact := false\n")
    assert RegoPolicy(one).version == RegoPolicy(same).version != RegoPolicy(other).version
    assert len(RegoPolicy(one).version) == 12


def test_cache_keys_only_on_the_fields_the_policy_reads(tmp_path):
    blind = RegoPolicy(write(tmp_path / "team.rego", HEAD + 'deny contains "t" if input.principal.team == "x"\n'))
    sized = RegoPolicy(write(tmp_path / "size.rego", HEAD + 'deny contains "long" if input.request.prompt_chars > 500\n'))
    short, long_ = request(prompt_chars=100), request(prompt_chars=900)

    assert blind.decide(short) == blind.decide(long_)
    assert (blind.stats()["misses"], blind.stats()["hits"]) == (1, 1)
    assert blind.input_fields == ["input.principal.team"]

    assert sized.decide(short).allowed and sized.decide(long_).denied == ("long",)
    assert (sized.stats()["misses"], sized.stats()["hits"]) == (2, 0)
    assert sized.reads("request.prompt_chars") and sized.reads("request") and not sized.reads("request.pii")


def test_the_policy_sees_exactly_the_fields_its_cache_keys_on(tmp_path):
    # A field read through a dynamic index is kept whole, so the policy can still reach it.
    policy = RegoPolicy(
        write(
            tmp_path / "p.rego",
            HEAD
            + (
                'field := "model"\n'
                'deny contains sprintf("model %v", [input.request[field]]) if input.request[field] != null\n'
                'deny contains "first candidate in us" if input.candidates[0].region == "us"\n'
            ),
        )
    )
    assert policy.input_fields == ["input.candidates", "input.request"]
    assert policy.decide(request(model="gpt")).denied == ("model gpt",)
    us = request()
    us["candidates"][0]["region"] = "us"
    assert policy.decide(us).denied == ("first candidate in us",)


def test_cache_is_bounded(tmp_path):
    policy = RegoPolicy(write(tmp_path / "p.rego", HEAD + "redact if input.request.prompt_chars > 5\n"), cache_size=2)
    for chars in (1, 10, 100, 1):
        policy.decide(request(prompt_chars=chars))
    assert policy.stats()["cached"] == 2
    assert policy.stats()["misses"] == 4  # 1 was evicted by the time it came back


def test_a_changed_policy_is_reloaded_without_a_restart(tmp_path):
    now = [0.0]
    path = write(tmp_path / "p.rego", HEAD + 'deny contains "old rule" if true\n')
    policy = RegoPolicy(path, check_interval_s=1.0, clock=lambda: now[0])
    old_version = policy.version
    assert policy.decide(request()).denied == ("old rule",)

    write(path, HEAD + 'deny contains "new rule" if true\nredact := true\n')
    os.utime(path, ns=(os.stat(path).st_mtime_ns + 10**9,) * 2)
    assert policy.decide(request()).denied == ("old rule",), "files are looked at most once per interval"
    now[0] = 1.5
    decision = policy.decide(request())
    assert decision.denied == ("new rule",) and decision.redact
    assert decision.version == policy.version != old_version
    assert policy.stats()["reloads"] == 1


def test_a_changed_policy_that_does_not_load_leaves_the_last_good_one_in_force(tmp_path, caplog):
    path = write(tmp_path / "p.rego", HEAD + 'deny contains "good" if true\n')
    policy = RegoPolicy(path, check_interval_s=0)
    good = policy.version
    write(path, HEAD + 'deny contains "bad" if {\n  input.x ==\n}\n')
    with caplog.at_level(logging.ERROR, logger="gateway_core.governance.policy_rego"):
        assert policy.decide(request()).denied == ("good",)
    assert policy.version == good and f"{path}:4" in policy.reload_error
    assert any("stays in force" in r.message for r in caplog.records)

    write(path, HEAD + 'deny contains "fixed" if true\n')
    assert policy.decide(request()).denied == ("fixed",) and policy.reload_error is None


def test_evaluation_error_fails_closed_and_is_logged(tmp_path, caplog):
    path = write(
        tmp_path / "p.rego",
        HEAD + 'prefer := ["a"] if input.request.task == "chat"\nprefer := ["b"] if input.request.task == "chat"\n',
    )
    with caplog.at_level(logging.WARNING):
        decision = RegoPolicy(path).decide(request())
    assert decision.denied == (FAIL_CLOSED_MESSAGE,) and "evaluation error" in decision.error
    assert any("fail-closed" in r.message for r in caplog.records)
    assert RegoPolicy(path).decide(request(task="summarise")).allowed, "no conflict, no error"


def test_fail_open_lets_the_request_through_but_records_the_error(tmp_path):
    path = write(tmp_path / "p.rego", HEAD + 'deny[msg] { msg := "v0 syntax" }\n')
    decision = RegoPolicy(path, fail_open=True).decide(request())
    assert decision.allowed and "v0 syntax" in decision.error
    assert RegoPolicy(path).decide(request()).denied == (FAIL_CLOSED_MESSAGE,)


def test_input_that_is_not_json_fails_closed(tmp_path):
    policy = RegoPolicy(write(tmp_path / "p.rego", HEAD + "redact if input.request.max_tokens > 1\n"))
    decision = policy.decide(request(max_tokens=float("nan")))
    assert not decision.allowed and "not plain JSON" in decision.error


def test_a_policy_using_the_clock_is_never_served_from_cache(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        policy = RegoPolicy(write(tmp_path / "p.rego", HEAD + "redact if time.now_ns() > 0\n"))
    assert "not cached" in caplog.text
    assert policy.decide(request()).redact and policy.decide(request()).redact
    assert policy.stats()["cacheable"] is False and policy.stats()["hits"] == 0


def test_concurrent_requests_get_the_same_decisions_as_sequential_ones(tmp_path):
    policy = RegoPolicy(
        write(
            tmp_path / "p.rego",
            HEAD
            + (
                'deny contains sprintf("too long: %d", [input.request.prompt_chars]) if input.request.prompt_chars % 3 == 0\n'
                "redact if input.request.prompt_chars % 2 == 0\n"
            ),
        )
    )
    inputs = [request(prompt_chars=n) for n in range(1, 60)] * 4
    expected = [RegoPolicy(policy.path).evaluate(i) for i in inputs]
    barrier = threading.Barrier(8)

    def decide(i):
        if i < 8:
            barrier.wait()
        return policy.decide(inputs[i])

    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(decide, range(len(inputs))))
    assert got == expected
