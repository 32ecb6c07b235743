"""Fixtures shared by the client-compatibility tests; the helpers live in ``platform_support``.

``platform`` is one dev server per test module: each module's tables, tenants and the gateway's
caches stay its own (a schema one module cached can never go stale behind another's back). A
module may define its own ``platform`` fixture, which takes precedence (``test_mcp_sdk.py``).
"""

from __future__ import annotations

import pytest

from platform_support import running_platform


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    with running_platform(tmp_path_factory.mktemp("devserver-data")) as server:
        yield server
