"""The official Airtable.js client (npm ``airtable``) against the `/v0` gateway of the dev server.

The suite itself is ``tests/js/airtable.test.js`` (``node --test``); this test gives it a dev
server (``conftest.py``'s ``platform``), a tenant connected to the sandbox's demo Airtable token
and two API keys (read-write and ``records:read`` only), runs it, and fails with node's output if
any of its tests fails. ``scripts/test`` installs the pinned client into ``tests/js/node_modules``
(``scripts/node-env.sh``) before it runs pytest; run by hand, ``npm ci`` in ``tests/js`` first.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from platform_support import BASE_ID, ROOT, SANDBOX_TOKEN, api_key, new_tenant

JS_DIR = ROOT / "tests" / "js"
SUITE = "airtable.test.js"
# The whole suite runs in well under a minute; a hang must not stall the run.
DEADLINE_SECONDS = 300


def test_airtable_js_suite_passes_through_the_gateway(platform):
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed; scripts/test installs it (scripts/node-env.sh)")
    if not (JS_DIR / "node_modules" / "airtable").is_dir():
        pytest.fail(f"airtable.js is not installed; run `npm ci` in {JS_DIR}")
    tenant = new_tenant(platform, "airtable-js", connect=True)
    env = {
        **os.environ,
        "PLATFORM_URL": platform.url,
        "SANDBOX_URL": platform.sandbox_url,
        "SANDBOX_TOKEN": SANDBOX_TOKEN,
        "BASE_ID": BASE_ID,
        "WRITE_KEY": api_key(platform, tenant.access_token, ["records:read", "records:write"], "js"),
        "READ_KEY": api_key(platform, tenant.access_token, ["records:read"], "js read only"),
    }
    # The client reads these when no option is given; the suite always gives both.
    env.pop("AIRTABLE_API_KEY", None)
    env.pop("AIRTABLE_ENDPOINT_URL", None)
    try:
        run = subprocess.run(
            [node, "--test", "--test-reporter=spec", SUITE],
            cwd=JS_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=DEADLINE_SECONDS,
        )
    except subprocess.TimeoutExpired as err:
        pytest.fail(f"the airtable.js suite did not finish in {DEADLINE_SECONDS} s:\n{err.stdout}\n{err.stderr}")
    output = f"{run.stdout}\n{run.stderr}"
    print(output)
    assert run.returncode == 0, f"the airtable.js suite failed (exit {run.returncode}):\n{output}\n{platform.output()}"
    assert "# fail 0" in run.stdout or "ℹ fail 0" in run.stdout, output
