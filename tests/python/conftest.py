"""Fixtures shared by the client-compatibility tests; the helpers live in ``platform_support``.

``platform`` is one dev server per test module: each module's tables, tenants and the gateway's
caches stay its own (a schema one module cached can never go stale behind another's back). A
module may define its own ``platform`` fixture, which takes precedence (``test_mcp_sdk.py``).
``sandbox_url`` is the Airtable sandbox alone, once per session, for the tests of the sandbox
itself.
"""

from __future__ import annotations

import pytest

from platform_support import running_platform, running_sandbox


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    with running_platform(tmp_path_factory.mktemp("devserver-data")) as server:
        yield server


@pytest.fixture(scope="session")
def sandbox_url():
    with running_sandbox() as url:
        yield url
