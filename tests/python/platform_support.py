"""The dev server as the client-compatibility tests run it: started on free ports with its
in-process Airtable sandbox and a temporary ``DATA_DIR``, plus the calls every such test makes
(register a tenant, connect the sandbox's demo Airtable token, create API keys, drive the
sandbox's admin endpoints).

Used by ``conftest.py`` (the ``platform`` fixture) and imported by the test files for the helpers.
The sandbox's rate limits are turned off once the server is up, so that the calls a test makes
straight to the sandbox can never earn the gateway a 429; a test that wants them turns them on.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
BASE_ID = "appSandboxDemoCRM"
SANDBOX_TOKEN = "patSandboxDemo001.demo-token-for-local-development-only"
BANNER = "PyAirtable platform on http://"
PASSWORD = "correct horse battery staple"
GATEWAY_SCOPES = ["records:read", "records:write", "schema:read"]
# (connect, read) timeouts: the gateway may hold a call while it waits for an Airtable slot.
TIMEOUT = (5, 60)
# Variables of the caller's environment that would point the dev server elsewhere or limit it.
_UNSET = (
    "BACKEND",
    "AIRTABLE_API_URL",
    "AWS_ENDPOINT_URL",
    "CLIENT_AUTH_REQUESTS_PER_MINUTE",
    "MCP_ALLOWED_ORIGINS",
)


def free_port(taken: set[int] = frozenset()) -> int:
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in taken:
            return port


@dataclass
class Platform:
    url: str
    sandbox_url: str
    lines: list[str] = field(default_factory=list)
    # A table a test module made for its writes, when it needs one (the MCP tests).
    write_table: str = ""

    @property
    def mcp_url(self) -> str:
        return self.url + "/mcp"

    def output(self) -> str:
        return "".join(self.lines)


@contextmanager
def _running(name: str, argv: list[str], env: dict[str, str], ready: str, lines: list[str]):
    """Runs ``argv`` until the ``with`` ends, collecting what it prints into ``lines`` and waiting
    (60 s at most) for a line containing ``ready``; fails the test, with the output, if it
    exits or never prints it."""
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    started = threading.Event()

    def drain():
        # Keeps reading until the process exits, so a chatty server never blocks on a full pipe.
        for line in proc.stdout:
            lines.append(line)
            if ready in line:
                started.set()
        started.set()

    threading.Thread(target=drain, daemon=True).start()
    try:
        if not started.wait(60) or proc.poll() is not None or ready not in "".join(lines):
            pytest.fail(f"the {name} did not start (exit code {proc.poll()}); it printed:\n{''.join(lines)}")
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _binary(variable: str, name: str, package: str) -> Path:
    """A binary of this workspace: ``$variable``, default ``target/debug/<name>``."""
    binary = Path(os.environ.get(variable, ROOT / "target" / "debug" / name))
    if not binary.exists():
        pytest.fail(f"{name} binary not found at {binary}; run `cargo build -p {package}`")
    return binary


@contextmanager
def running_platform(data_dir: Path):
    """Starts the dev server (``DEVSERVER_BIN``, default ``target/debug/devserver``) and stops it."""
    binary = _binary("DEVSERVER_BIN", "devserver", "devserver")
    port = free_port()
    sandbox_port = free_port({port})
    env = {k: v for k, v in os.environ.items() if k not in _UNSET}
    env.update(
        PORT=str(port),
        SANDBOX_PORT=str(sandbox_port),
        DATA_DIR=str(data_dir),
        TENANT_REQUESTS_PER_MINUTE="0",
        RUST_LOG=os.environ.get("RUST_LOG", "warn"),
    )
    server = Platform(url=f"http://127.0.0.1:{port}", sandbox_url=f"http://127.0.0.1:{sandbox_port}")
    with _running("dev server", [str(binary)], env, BANNER, server.lines):
        # The banner is printed once both the platform and its sandbox listen.
        sandbox_admin(server, "POST", "/_sandbox/rate-limits", {"enabled": False})
        yield server


@contextmanager
def running_sandbox():
    """Starts the Airtable sandbox alone (``SANDBOX_BIN``, default ``target/debug/airtable-sandbox``)
    on a free port with its demo data; yields its URL."""
    binary = _binary("SANDBOX_BIN", "airtable-sandbox", "airtable-sandbox")
    port = free_port()
    with _running("Airtable sandbox", [str(binary), "--port", str(port)], dict(os.environ), "listening on", []):
        yield f"http://127.0.0.1:{port}"


def sandbox_admin(platform: Platform | str, method: str, path: str, body: dict | list | None = None) -> dict:
    """Calls one of the sandbox's admin endpoints (`/_sandbox/...`), of a platform or at a URL."""
    url = platform if isinstance(platform, str) else platform.sandbox_url
    resp = requests.request(method, url + path, json=body, timeout=TIMEOUT)
    assert resp.ok, f"{method} {path}: {resp.status_code} {resp.text}"
    return resp.json()


def straight(
    platform: Platform, method: str, path: str, body: dict | None = None, params=None, *, check: bool = True
) -> requests.Response:
    """Airtable's REST API straight on the sandbox, with the demo token; asserts success unless
    ``check`` is off."""
    resp = requests.request(
        method, platform.sandbox_url + path, json=body, params=params, headers=bearer(SANDBOX_TOKEN), timeout=TIMEOUT
    )
    if check:
        assert resp.ok, f"{method} {path}: {resp.status_code} {resp.text}"
    return resp


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Tenant:
    email: str
    access_token: str
    key: str


def api_key(platform: Platform, access_token: str, scopes: list[str], name: str = "py") -> str:
    resp = requests.post(
        platform.url + "/v1/api-keys",
        json={"name": name, "scopes": scopes},
        headers=bearer(access_token),
        timeout=TIMEOUT,
    )
    assert resp.status_code == 201, resp.text
    key = resp.json()["key"]
    assert key.startswith("pak_"), key
    return key


def register(platform: Platform, label: str, *, connect: bool) -> tuple[str, str]:
    """Registers a new owner (a tenant) and connects the sandbox's demo token if asked; answers
    the email and the access token."""
    email = f"{label}-{uuid.uuid4().hex[:10]}@example.com"
    resp = requests.post(
        platform.url + "/v1/auth/register", json={"email": email, "password": PASSWORD}, timeout=TIMEOUT
    )
    assert resp.status_code == 201, resp.text
    access_token = resp.json()["access_token"]
    if connect:
        resp = requests.put(
            platform.url + "/v1/connections/airtable",
            json={"token": SANDBOX_TOKEN},
            headers=bearer(access_token),
            timeout=TIMEOUT,
        )
        assert resp.status_code in (200, 201), resp.text
    return email, access_token


def new_tenant(platform: Platform, label: str, *, connect: bool) -> Tenant:
    """Registers a tenant, connects the sandbox's demo token if asked, and makes a gateway key."""
    email, access_token = register(platform, label, connect=connect)
    return Tenant(email, access_token, api_key(platform, access_token, GATEWAY_SCOPES))
