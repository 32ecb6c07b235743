"""Fuzzes the running platform against its own OpenAPI document with schemathesis.

Starts the dev server (``DEVSERVER_BIN``, default ``target/debug/devserver``) on free ports with a
temporary ``DATA_DIR`` and its in-process Airtable sandbox (rate limits off on both sides, so the
fuzzer's bursts are never paced or locked out), and the scripted fake Gemini (``FAKE_LLM_BIN``,
beside the dev server) answering every chat turn, so that chat is fuzzed through a configured
model rather than refused with 503 ``MODEL_NOT_CONFIGURED``. It registers a tenant, connects the
sandbox's demo Airtable token, and runs ``schemathesis run`` over every operation of ``/v1/openapi.json`` twice:

1. with an API key that holds every scope (the gateway, chat, MCP, usage, keys, budgets);
2. with a signed-in user's access token, for the routes only a user may call (profile, keys),
   and the Airtable connection (last, since disconnecting it turns the gateway's answers into
   409s);
3. with another user's session each, the password change and logout, which end the session
   they run under.

It does this on the embedded default (SQLite), and again on the AWS adapters (DynamoDB, SQS and
Secrets Manager against moto at ``MOTO_ENDPOINT``, which ``./scripts/test`` starts) when that is
set; with ``REQUIRE_MOTO=1`` and no ``MOTO_ENDPOINT`` it fails rather than skip the second.

Each run checks every response against the document (status codes, content types, bodies,
headers) and that nothing answers 5xx; it is bounded by ``FUZZ_MAX_EXAMPLES`` examples per
operation and phase, and by a wall-clock timeout. The exit code is schemathesis's.

Run it alone with ``.venv/fuzz/bin/python tests/contract/fuzz.py`` after ``cargo build -p devserver``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SANDBOX_TOKEN = "patSandboxDemo001.demo-token-for-local-development-only"
BANNER = "demo Airtable token"
ALL_SCOPES = [
    "records:read",
    "records:write",
    "schema:read",
    "schema:write",
    "chat",
    "workflows",
    "sagas",
    "usage:read",
    "admin",
]
# Routes a fuzzer must not call with the session it runs under (they end it), and the connection,
# which the first pass leaves alone so that the gateway stays connected while it is fuzzed (the
# second pass fuzzes it, last).
SESSION_ENDERS = r"^/v1/auth/(logout|password)$"
FIRST_PASS_EXCLUDES = SESSION_ENDERS + r"|^/v1/connections/airtable$"
SECOND_PASS = r"^/v1/(auth/me|api-keys|connections/airtable)"
MAX_EXAMPLES = os.environ.get("FUZZ_MAX_EXAMPLES", "15")
TIMEOUT_SECONDS = int(os.environ.get("FUZZ_TIMEOUT_SECONDS", "600"))


def free_port(taken: set[int] = frozenset()) -> int:
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in taken:
            return port


def call(method: str, url: str, body: dict | None = None, token: str | None = None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if body is not None:
        request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
            return response.status, json.loads(text) if text else {}
    except urllib.error.HTTPError as err:
        text = err.read()
        return err.code, json.loads(text) if text else {}


def expect(status: int, got: tuple[int, dict], what: str) -> dict:
    if got[0] != status:
        sys.exit(f"fuzz setup: {what} answered {got[0]}: {got[1]}")
    return got[1]


def start(command: list[str], env: dict[str, str], ready_text: str, what: str) -> tuple[subprocess.Popen, list[str]]:
    """Starts a process and waits until it prints ``ready_text``; its output is kept."""
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    ready = threading.Event()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if ready_text in line:
                ready.set()

    threading.Thread(target=pump, daemon=True).start()
    if not ready.wait(60):
        process.kill()
        sys.exit(f"{what} did not start:\n" + "".join(lines))
    return process, lines


def start_fake_llm(script_dir: str) -> tuple[subprocess.Popen, str]:
    default = Path(os.environ.get("DEVSERVER_BIN", ROOT / "target" / "debug" / "devserver")).parent / "fake-llm"
    binary = Path(os.environ.get("FAKE_LLM_BIN", default))
    if not binary.exists():
        sys.exit(f"fake-llm binary not found at {binary}; run `cargo build -p fake-llm`")
    script = Path(script_dir) / "fake-llm-script.json"
    script.write_text(json.dumps({"rules": [{"when": "always", "text": "A scripted answer."}]}))
    port = free_port()
    process, _ = start(
        [str(binary), "--port", str(port), "--script", str(script)], dict(os.environ), "fake LLM listening", "fake-llm"
    )
    return process, f"http://127.0.0.1:{port}"


def start_platform(
    data_dir: str, gemini_url: str, backend: dict[str, str]
) -> tuple[subprocess.Popen, str, str, list[str]]:
    binary = Path(os.environ.get("DEVSERVER_BIN", ROOT / "target" / "debug" / "devserver"))
    if not binary.exists():
        sys.exit(f"dev server binary not found at {binary}; run `cargo build -p devserver`")
    port = free_port()
    sandbox_port = free_port({port})
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("BACKEND", "AIRTABLE_API_URL", "AWS_ENDPOINT_URL")
    }
    env.update(
        PORT=str(port),
        SANDBOX_PORT=str(sandbox_port),
        DATA_DIR=data_dir,
        TENANT_REQUESTS_PER_MINUTE="0",
        CLIENT_AUTH_REQUESTS_PER_MINUTE="0",
        AIRTABLE_BASE_REQUESTS_PER_SECOND="0",
        AIRTABLE_TOKEN_REQUESTS_PER_SECOND="0",
        GATEWAY_LATENCY_BUDGET_MS="5000",
        RUST_LOG=env.get("RUST_LOG", "warn"),
        LOG_FORMAT="pretty",
        GEMINI_BASE_URL=gemini_url,
        GEMINI_API_KEY="fake-gemini-key",
        CHAT_MODEL="gemini-2.5-flash",
    )
    env.update(backend)
    process, lines = start([str(binary)], env, BANNER, "dev server")
    return process, f"http://127.0.0.1:{port}", f"http://127.0.0.1:{sandbox_port}", lines


def schemathesis(label: str, spec_url: str, base_url: str, token: str, *extra: str) -> int:
    command = [
        sys.executable,
        str(Path(__file__).with_name("run_schemathesis.py")),
        "--config-file",
        str(Path(__file__).with_name("schemathesis.toml")),
        "run",
        spec_url,
        "--url",
        base_url,
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        "all",
        "--max-examples",
        MAX_EXAMPLES,
        "--workers",
        "2",
        "--request-timeout",
        "30",
        "--seed",
        os.environ.get("FUZZ_SEED", "20261202"),
        "--generation-database",
        "none",
        "--no-color",
        *extra,
    ]
    print("$", " ".join(c if "Bearer" not in c else "'Authorization: Bearer …'" for c in command), flush=True)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = threading.Timer(TIMEOUT_SECONDS, process.kill)
    deadline.start()
    try:
        assert process.stdout is not None
        for line in process.stdout:
            print(line, end="", flush=True)
            stripped = line.strip()
            if stripped.startswith("Selected:") or " generated, " in stripped:
                COVERAGE.append(f"{label}: {stripped}")
        code = process.wait()
    finally:
        deadline.cancel()
    if code < 0:
        print(f"schemathesis did not finish within {TIMEOUT_SECONDS} s", flush=True)
        return 1
    return code


# What each schemathesis run covered ("Selected: n/m" operations, cases generated and how they
# fared), printed again at the end so a reader sees the whole coverage in one place.
COVERAGE: list[str] = []


def create_secret(endpoint: str, name: str, value: str) -> None:
    """Creates a Secrets Manager secret on moto (its JSON protocol; moto checks no signature)."""
    request = urllib.request.Request(
        endpoint,
        data=json.dumps({"Name": name, "SecretString": value}).encode(),
        method="POST",
        headers={
            "content-type": "application/x-amz-json-1.1",
            "x-amz-target": "secretsmanager.CreateSecret",
            "authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/secretsmanager/aws4_request, "
            "SignedHeaders=host, Signature=0",
        },
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        if response.status != 200:
            sys.exit(f"could not create the secret {name} on moto: {response.status}")


def backends() -> list[tuple[str, dict[str, str]]]:
    """The backends to fuzz: the embedded default, and the AWS adapters on moto when it runs."""
    chosen = [("embedded (SQLite)", {"BACKEND": "embedded"})]
    moto = os.environ.get("MOTO_ENDPOINT")
    if moto:
        unique = f"fuzz-{os.getpid()}-{int(time.time())}"
        chosen.append(
            (
                f"aws (moto at {moto})",
                {
                    "BACKEND": "aws",
                    "AWS_ENDPOINT_URL": moto,
                    "AWS_ACCESS_KEY_ID": "test",
                    "AWS_SECRET_ACCESS_KEY": "test",
                    "AWS_REGION": "us-east-1",
                    "RESOURCE_PREFIX": f"{unique}-",
                    "SECRETS_PREFIX": f"{unique}/",
                },
            )
        )
        # In AWS the model's key is a secret (the embedded backend reads GEMINI_API_KEY).
        create_secret(moto, f"{unique}/llm/gemini-api-key", "fake-gemini-key")
    elif os.environ.get("REQUIRE_MOTO") == "1":
        sys.exit("REQUIRE_MOTO=1 but MOTO_ENDPOINT is not set: cannot fuzz the AWS adapters")
    else:
        print("MOTO_ENDPOINT is not set: fuzzing the embedded backend only", flush=True)
    return chosen


def main() -> int:
    code = 0
    for name, backend in backends():
        print(f"\n=== contract fuzzing on the {name} backend ===", flush=True)
        code |= fuzz(name, backend)
    print("\n=== what the contract fuzzing covered ===", flush=True)
    for line in COVERAGE:
        print(line, flush=True)
    return code


def fuzz(name: str, backend: dict[str, str]) -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="fuzz-data-") as data_dir:
        llm, gemini_url = start_fake_llm(data_dir)
        process, url, sandbox_url, lines = start_platform(data_dir, gemini_url, backend)
        try:
            expect(200, call("POST", f"{sandbox_url}/_sandbox/rate-limits", {"enabled": False}), "sandbox limits off")
            signed_in = expect(
                201,
                call(
                    "POST",
                    f"{url}/v1/auth/register",
                    {"email": "fuzz@example.com", "password": "correct horse battery staple", "name": "Fuzz"},
                ),
                "register",
            )
            access = signed_in["access_token"]
            expect(200, call("PUT", f"{url}/v1/connections/airtable", {"token": SANDBOX_TOKEN}, access), "connect")
            key = expect(
                201,
                call("POST", f"{url}/v1/api-keys", {"name": "fuzzer", "scopes": ALL_SCOPES}, access),
                "create key",
            )["key"]
            spec_url = f"{url}/v1/openapi.json"
            status, document = call("GET", spec_url)
            if status != 200:
                sys.exit(f"GET /v1/openapi.json answered {status}")
            operations = sum(
                1
                for item in document.get("paths", {}).values()
                for method in item
                if method in ("get", "put", "post", "patch", "delete")
            )
            print(f"fuzzing {operations} operations of {spec_url}", flush=True)

            code = schemathesis(
                f"{name}, API key", spec_url, url, key, "--exclude-path-regex", FIRST_PASS_EXCLUDES
            )
            code |= schemathesis(
                f"{name}, user session", spec_url, url, access, "--include-path-regex", SECOND_PASS
            )
            # Last, each with a session of its own, since each ends the session it runs under:
            # the password change, then logout (no links lead there: no stateful phase).
            for number, route in enumerate(("/v1/auth/password", "/v1/auth/logout"), start=2):
                session = expect(
                    201,
                    call(
                        "POST",
                        f"{url}/v1/auth/register",
                        {"email": f"fuzz-{number}@example.com", "password": "correct horse battery staple"},
                    ),
                    "register another user",
                )["access_token"]
                code |= schemathesis(
                    f"{name}, a session for {route}",
                    spec_url,
                    url,
                    session,
                    "--include-path",
                    route,
                    "--phases",
                    "examples,coverage,fuzzing",
                )
        finally:
            for child in (process, llm):
                child.terminate()
                try:
                    child.wait(10)
                except subprocess.TimeoutExpired:
                    child.kill()
        server_errors = [line for line in lines if " ERROR " in line or "panicked" in line]
        if server_errors:
            print("the dev server logged errors while fuzzed:", flush=True)
            print("".join(server_errors[:50]), flush=True)
            code |= 1
        print(f"contract fuzzing took {time.monotonic() - started:.0f} s", flush=True)
        return code


if __name__ == "__main__":
    sys.exit(main())
