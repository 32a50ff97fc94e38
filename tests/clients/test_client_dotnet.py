"""The C# client in clients/dotnet, compiled with Mono's mcs and run with mono against a real
``gateway serve``: the same sources the .NET 8 project builds."""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest
from client_support import CLIENTS, check_summary, client_env, sections
from required_tools import missing

DOTNET = CLIENTS / "dotnet"
PROMPT = "What does a message queue buy you under bursty traffic?"


@pytest.fixture(scope="module")
def client_exe(tmp_path_factory):
    mcs, mono = shutil.which("mcs"), shutil.which("mono")
    if not (mcs and mono):
        missing(
            "C# CLIENT TESTS SKIPPED: Mono's C# compiler (mcs) and runtime (mono)",
            "apt-get install -y mono-mcs libmono-system-net-http4.0-cil "
            "libmono-system-runtime-serialization4.0-cil (.ci/run installs them)",
        )
    exe = tmp_path_factory.mktemp("dotnet") / "GatewayClient.exe"
    sources = sorted(str(p) for p in DOTNET.glob("*.cs"))
    refs = ["-r:System.Net.Http.dll", "-r:System.Runtime.Serialization.dll"]  # the two libmono packages
    cmd = [mcs, "-warnaserror+", f"-out:{exe}", *refs, *sources]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    return [mono, str(exe)]


def _run(client_exe, gateway, *args, key=None):
    cmd = [*client_exe, "--url", gateway.url, "--key", gateway.key if key is None else key, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=client_env())


def test_project_targets_net8_as_a_console_app_without_nuget_packages():
    project = ET.parse(DOTNET / "GatewayClient.csproj").getroot()
    assert project.get("Sdk") == "Microsoft.NET.Sdk"
    props = {el.tag: el.text for group in project.iter("PropertyGroup") for el in group}
    assert props["TargetFramework"] == "net8.0" and props["OutputType"] == "Exe"
    # C# 7.3 at most, so the sources that .NET 8 builds are the ones Mono's mcs builds here.
    assert float(props["LangVersion"]) <= 7.3
    assert not list(project.iter("PackageReference"))
    assert not any("async Task Main" in p.read_text() for p in DOTNET.glob("*.cs"))


def test_generate_stream_and_chat_print_provider_model_tokens_and_cost(client_exe, gateway):
    done = _run(client_exe, gateway, "all", PROMPT)
    assert done.returncode == 0, done.stderr
    found = sections(done.stdout)
    assert list(found) == ["POST /generate", "POST /generate (stream)", "POST /v1/chat/completions"]
    logged = gateway.logged({s["request_id"] for s in found.values()})
    for name, section in found.items():
        assert "queue" in section["answer"].lower(), name  # the emulator answers about the prompt
        check_summary(section, logged)
    assert int(found["POST /generate (stream)"]["pieces"]) > 1  # the answer arrived in pieces


def test_a_provider_hint_and_a_task_reach_the_gateway(client_exe, gateway):
    done = _run(
        client_exe,
        gateway,
        "generate",
        "--provider",
        "bedrock",
        "--task",
        "summarise",
        "Summarise: The council met. It approved the transport budget. Weather was mild.",
    )
    assert done.returncode == 0, done.stderr
    section = sections(done.stdout)["POST /generate"]
    assert section["provider"] == "bedrock" and "budget" in section["answer"]


def test_a_bad_field_is_a_typed_request_error_naming_the_field(client_exe, gateway):
    done = _run(client_exe, gateway, "generate", "--max-tokens", "0", "Hello")
    assert done.returncode == 1
    assert "error: GatewayRequestException (HTTP 422) kind=validation_error field=max_tokens:" in done.stderr
    done = _run(client_exe, gateway, "chat", "--model", "no-such-model", "Hello")
    assert done.returncode == 1
    assert "error: GatewayRequestException (HTTP 400) kind=invalid_value field=model:" in done.stderr


def test_a_wrong_key_is_a_typed_auth_error_on_both_apis(client_exe, gateway):
    cases = (("generate", "authentication_error"), ("chat", "invalid_api_key"), ("stream", "authentication_error"))
    for command, kind in cases:
        done = _run(client_exe, gateway, command, "Hello", key="not-the-key")
        assert done.returncode == 1, command
        assert f"error: GatewayAuthException (HTTP 401) kind={kind} field=-:" in done.stderr, command
        assert "not-the-key" not in done.stdout + done.stderr


def test_usage_errors_and_an_unreachable_gateway_have_their_own_exit_codes(client_exe, gateway):
    done = subprocess.run([*client_exe, "--max-tokens", "many", "Hello"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--max-tokens must be an integer" in done.stderr
    done = subprocess.run(
        [*client_exe, "--url", "http://127.0.0.1:9", "generate", "Hello"],
        capture_output=True,
        text=True,
        timeout=60,
        env=client_env(),
    )
    assert done.returncode == 3 and "cannot reach the gateway at http://127.0.0.1:9" in done.stderr
