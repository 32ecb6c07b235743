"""The official MCP Python SDK (PyPI ``mcp``) against the dev server's ``/mcp``, compared with the sandbox.

Starts the dev server once for the module (``platform_support.running_platform``: free ports, its
in-process Airtable sandbox, a temporary ``DATA_DIR``). A tenant registers, connects
the sandbox's demo Airtable token and creates API keys with different scopes; the SDK's
``Client`` then talks to ``POST /mcp`` over streamable HTTP with ``Authorization: Bearer <key>``
in both protocol eras it speaks:

- ``mode="auto"`` (the default): ``server/discover``, then the stateless 2026-07-28 protocol;
- ``mode="legacy"``: the ``initialize`` handshake, negotiated at 2025-11-25.

What the tools answer is compared with what the sandbox answers "straight" (the demo Airtable
token against the sandbox's own URL). The older initialize-based revisions (2025-06-18,
2025-03-26), which the SDK no longer offers, and the transport's error answers are checked over
raw HTTP with ``requests``.

Writes go to a table of their own, created straight in the sandbox before any MCP call, so the
demo base's ``Contacts`` (which the read tests compare) never changes under them.
"""

from __future__ import annotations

import json
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import quote

import anyio
import httpx2
import pytest
import requests
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client
from platform_support import (
    BASE_ID,
    TIMEOUT,
    Platform,
    api_key,
    bearer as _bearer,
    register,
    running_platform,
    sandbox_admin,
    straight as _straight,
)

TABLE = "Contacts"
SCHEMA_URI = f"airtable://bases/{BASE_ID}/schema"
SERVER_NAME = "pyairtable-on-lambda"
# The most one SDK test may take, handshake included.
SDK_DEADLINE = 120

SCHEMA_READ_TOOLS = {"list_bases", "list_tables", "describe_table"}
RECORD_READ_TOOLS = {"list_records", "search_records", "get_record", "analyze_table", "find_duplicates", "export_csv"}
RECORD_WRITE_TOOLS = {"create_records", "update_records", "upsert_records", "delete_records"}
SCHEMA_WRITE_TOOLS = {"create_table", "update_table", "create_field", "update_field"}
ALL_TOOLS = SCHEMA_READ_TOOLS | RECORD_READ_TOOLS | RECORD_WRITE_TOOLS | SCHEMA_WRITE_TOOLS

# The SDK's two ways in: (mode, the protocol version it must land on).
MODES = [
    pytest.param("auto", "2026-07-28", id="auto-2026-07-28"),
    pytest.param("legacy", "2025-11-25", id="legacy-2025-11-25"),
]


# --- the dev server ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    with running_platform(tmp_path_factory.mktemp("devserver-data")) as server:
        # The write tests' own table, made before any MCP call so no schema the platform read can
        # be missing it.
        server.write_table = f"Mcp writes {uuid.uuid4().hex[:6]}"
        _straight(
            server,
            "POST",
            f"/v0/meta/bases/{BASE_ID}/tables",
            {
                "name": server.write_table,
                "fields": [{"name": "Name", "type": "singleLineText"}, {"name": "N", "type": "number", "options": {"precision": 0}}],
            },
        )
        yield server


def _straight_records(platform: Platform, table: str, params: list[tuple[str, str]] | None = None) -> list[dict]:
    """Every record of `table` straight from the sandbox, following offsets."""
    records: list[dict] = []
    offset = None
    while True:
        page_params = list(params or []) + ([("offset", offset)] if offset else [])
        page = _straight(platform, "GET", f"/v0/{BASE_ID}/{quote(table, safe='')}", params=page_params).json()
        records.extend(page["records"])
        offset = page.get("offset")
        if not offset:
            return records


# --- tenants, keys ----------------------------------------------------------------------------


@dataclass
class Tenant:
    access_token: str
    full_key: str  # every records and schema scope
    read_key: str  # records:read only
    write_key: str  # records:read and records:write


@pytest.fixture(scope="module")
def tenant(platform) -> Tenant:
    _, access_token = register(platform, "mcp", connect=True)
    return Tenant(
        access_token=access_token,
        full_key=api_key(
            platform, access_token, ["records:read", "records:write", "schema:read", "schema:write"], "mcp full"
        ),
        read_key=api_key(platform, access_token, ["records:read"], "mcp read"),
        write_key=api_key(platform, access_token, ["records:read", "records:write"], "mcp write"),
    )


# --- the SDK ----------------------------------------------------------------------------------


@dataclass
class Sent:
    """One HTTP request the SDK sent."""

    method: str
    headers: dict[str, str]
    body: dict | list | None


@asynccontextmanager
async def _sdk(platform: Platform, token: str, mode: str, sent: list[Sent] | None = None):
    """The SDK's `Client` over streamable HTTP with our bearer token; `sent` collects its requests."""

    async def record(request: httpx2.Request) -> None:
        if sent is not None:
            content = request.content
            sent.append(
                Sent(
                    request.method,
                    {k.lower(): v for k, v in request.headers.items()},
                    json.loads(content) if content else None,
                )
            )

    async with httpx2.AsyncClient(
        headers=_bearer(token),
        timeout=httpx2.Timeout(30, read=60),
        event_hooks={"request": [record]},
    ) as http:
        async with Client(streamable_http_client(platform.mcp_url, http_client=http), mode=mode) as client:
            yield client


def _run(test, *args):
    """Runs one async test body on an event loop, bounded in time."""

    async def main():
        with anyio.fail_after(SDK_DEADLINE):
            return await test(*args)

    return anyio.run(main)


def _text(result) -> str:
    assert result.content and result.content[0].type == "text", result
    return result.content[0].text


def _contacts_args(**more) -> dict:
    return {"base_id": BASE_ID, "table": TABLE, **more}


# --- 1. connect, list tools, call read tools ----------------------------------------------------


@pytest.mark.parametrize("mode, version", MODES)
def test_sdk_connects_with_an_api_key_and_lists_tools_by_scope(platform, tenant, mode, version):
    async def body():
        sent: list[Sent] = []
        async with _sdk(platform, tenant.full_key, mode, sent) as client:
            assert client.protocol_version == version
            assert client.server_info is not None and client.server_info.name == SERVER_NAME
            caps = client.server_capabilities
            assert caps.tools is not None and caps.prompts is not None and caps.resources is not None
            tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert {"list_records", "analyze_table"} <= set(tools)
        assert set(tools) == ALL_TOOLS
        listing = tools["list_records"]
        assert listing.input_schema["required"] == ["base_id", "table"]
        assert listing.output_schema is not None and listing.output_schema["required"] == ["records", "count"]
        assert listing.annotations.read_only_hint is True
        assert tools["delete_records"].annotations.destructive_hint is True

        # What went over the wire: POSTs only (no GET stream, no DELETE, since no session id was
        # handed out), each with our bearer token, opened the way the mode says.
        assert sent and all(s.method == "POST" for s in sent), [(s.method, s.body) for s in sent]
        assert all(s.headers["authorization"] == f"Bearer {tenant.full_key}" for s in sent)
        first = sent[0]
        if mode == "auto":
            assert first.body["method"] == "server/discover"
            assert first.headers["mcp-protocol-version"] == "2026-07-28"
            assert first.headers["mcp-method"] == "server/discover"
            listed = [s for s in sent if isinstance(s.body, dict) and s.body.get("method") == "tools/list"]
            assert listed and listed[0].headers["mcp-protocol-version"] == "2026-07-28"
            assert listed[0].body["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] == "2026-07-28"
        else:
            assert first.body["method"] == "initialize"
            assert first.body["params"]["protocolVersion"] == "2025-11-25"
            assert sent[1].body["method"] == "notifications/initialized"
            assert all(s.headers.get("mcp-protocol-version") == "2025-11-25" for s in sent[1:])

        # A key with records:read alone sees the record reading tools and nothing else.
        async with _sdk(platform, tenant.read_key, mode) as client:
            read_only = {tool.name for tool in (await client.list_tools()).tools}
        assert read_only == RECORD_READ_TOOLS
        assert not read_only & (RECORD_WRITE_TOOLS | SCHEMA_READ_TOOLS | SCHEMA_WRITE_TOOLS)

    _run(body)


def test_sdk_connects_with_an_access_token(platform, tenant):
    """A signed-in user's access token works as the bearer too (the owner has every scope)."""

    async def body():
        async with _sdk(platform, tenant.access_token, "auto") as client:
            assert client.protocol_version == "2026-07-28"
            names = {tool.name for tool in (await client.list_tools()).tools}
            assert names == ALL_TOOLS
            result = await client.call_tool("list_bases", {})
            assert not result.is_error, _text(result)
            assert BASE_ID in {base["id"] for base in result.structured_content["bases"]}

    _run(body)


@pytest.mark.parametrize("mode, version", MODES)
def test_list_records_answers_the_sandbox_records(platform, tenant, mode, version):
    everything = _straight_records(platform, TABLE)
    assert len(everything) >= 5, everything
    filtered = _straight_records(
        platform,
        TABLE,
        [
            ("filterByFormula", "{Rating} >= 4"),
            ("fields[]", "Name"),
            ("fields[]", "Rating"),
            ("sort[0][field]", "Name"),
            ("sort[0][direction]", "desc"),
        ],
    )
    assert 0 < len(filtered) < len(everything), filtered

    async def body():
        async with _sdk(platform, tenant.read_key, mode) as client:
            assert client.protocol_version == version
            await client.list_tools()
            result = await client.call_tool("list_records", _contacts_args())
            assert result.is_error is False, _text(result)
            assert result.structured_content == {"records": everything, "count": len(everything)}
            # The text content carries the same answer, for clients that read only text.
            assert json.loads(_text(result)) == result.structured_content

            result = await client.call_tool(
                "list_records",
                _contacts_args(
                    filter_formula="{Rating} >= 4",
                    fields=["Name", "Rating"],
                    sort=[{"field": "Name", "direction": "desc"}],
                ),
            )
            assert result.is_error is False, _text(result)
            assert result.structured_content["records"] == filtered
            assert result.structured_content["count"] == len(filtered)

            result = await client.call_tool("list_records", _contacts_args(max_records=2))
            assert result.structured_content["records"] == everything[:2]

    _run(body)


@pytest.mark.parametrize("mode, version", MODES)
def test_analyze_table_profiles_the_sandbox_records(platform, tenant, mode, version):
    records = _straight_records(platform, TABLE)

    async def body():
        async with _sdk(platform, tenant.read_key, mode) as client:
            assert client.protocol_version == version
            await client.list_tools()
            return await client.call_tool("analyze_table", _contacts_args())

    result = _run(body)
    assert result.is_error is False, _text(result)
    profile = result.structured_content
    assert json.loads(_text(result)) == profile
    assert profile["record_count"] == len(records)
    assert profile["complete"] is True
    by_name = {f["name"]: f for f in profile["fields"]}
    assert {"Name", "Email", "Contact number"} <= set(by_name)
    for name in ("Contact number", "Rating"):
        values = [r["fields"][name] for r in records if isinstance(r["fields"].get(name), (int, float))]
        assert values, name
        numeric = by_name[name]["numeric"]
        assert numeric["count"] == len(values)
        assert numeric["min"] == min(values) and numeric["max"] == max(values)
        assert numeric["sum"] == pytest.approx(sum(values))
        assert numeric["mean"] == pytest.approx(sum(values) / len(values))
    emails = [r["fields"].get("Email") for r in records]
    assert by_name["Email"]["empty"] == sum(1 for e in emails if not e)
    assert by_name["Email"]["distinct"] == len({e for e in emails if e})


@pytest.mark.parametrize("mode, version", MODES)
def test_a_failing_tool_comes_back_as_an_error_result(platform, tenant, mode, version):
    bad_formula = "{Name"
    straight = _straight(platform, "GET", f"/v0/{BASE_ID}/{TABLE}", params={"filterByFormula": bad_formula}, check=False)
    assert straight.status_code == 422, straight.text
    assert straight.json()["error"]["type"] == "INVALID_FILTER_BY_FORMULA"

    async def body():
        async with _sdk(platform, tenant.read_key, mode) as client:
            assert client.protocol_version == version
            await client.list_tools()
            failed = await client.call_tool("list_records", _contacts_args(filter_formula=bad_formula))
            # Still usable after a failed call.
            ok = await client.call_tool("get_record", _contacts_args(record_id="recCt000000000001"))
            return failed, ok

    failed, ok = _run(body)
    assert failed.is_error is True
    assert "INVALID_FILTER_BY_FORMULA" in _text(failed)
    assert ok.is_error is False, _text(ok)
    assert ok.structured_content["id"] == "recCt000000000001"


# --- 2. writes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode, version", MODES)
def test_create_records_writes_to_the_sandbox_and_needs_the_write_scope(platform, tenant, mode, version):
    name = f"Made by MCP {mode} {uuid.uuid4().hex[:6]}"

    async def body():
        async with _sdk(platform, tenant.write_key, mode) as client:
            assert client.protocol_version == version
            names = {tool.name for tool in (await client.list_tools()).tools}
            assert names == RECORD_READ_TOOLS | RECORD_WRITE_TOOLS
            created = await client.call_tool(
                "create_records",
                {"base_id": BASE_ID, "table": platform.write_table, "records": [{"fields": {"Name": name, "N": 7}}]},
            )
        async with _sdk(platform, tenant.read_key, mode) as client:
            await client.list_tools()
            with pytest.raises(MCPError) as refused:
                await client.call_tool(
                    "create_records",
                    {"base_id": BASE_ID, "table": platform.write_table, "records": [{"fields": {"Name": "never"}}]},
                )
        return created, refused.value

    before = _straight_records(platform, platform.write_table)
    created, refused = _run(body)

    assert created.is_error is False, _text(created)
    assert created.structured_content["count"] == 1
    record = created.structured_content["records"][0]
    assert record["id"].startswith("rec") and record["fields"] == {"Name": name, "N": 7}
    # Straight in the sandbox, at once.
    stored = _straight(platform, "GET", f"/v0/{BASE_ID}/{quote(platform.write_table)}/{record['id']}").json()
    assert stored["fields"] == {"Name": name, "N": 7}
    assert stored["createdTime"] == record["createdTime"]

    # With records:read alone the tool does not exist, and nothing was written.
    assert refused.code == -32602, refused
    assert "create_records" in str(refused)
    after = _straight_records(platform, platform.write_table)
    assert len(after) == len(before) + 1
    assert not any(r["fields"].get("Name") == "never" for r in after)


# --- 3. prompts and resources -------------------------------------------------------------------


@pytest.mark.parametrize("mode, version", MODES)
def test_prompts_list_get_and_refuse_a_missing_argument(platform, tenant, mode, version):
    async def body():
        async with _sdk(platform, tenant.read_key, mode) as client:
            assert client.protocol_version == version
            prompts = {p.name: p for p in (await client.list_prompts()).prompts}
            got = await client.get_prompt(
                "analyze_table", {"base_id": BASE_ID, "table": TABLE, "focus": "duplicate emails"}
            )
            with pytest.raises(MCPError) as missing:
                await client.get_prompt("analyze_table", {"base_id": BASE_ID})
            with pytest.raises(MCPError) as unknown:
                await client.get_prompt("no_such_prompt", {})
            return prompts, got, missing.value, unknown.value

    prompts, got, missing, unknown = _run(body)
    assert set(prompts) == {"analyze_table", "summarize_records"}
    arguments = {a.name: a.required for a in prompts["analyze_table"].arguments}
    assert arguments == {"base_id": True, "table": True, "focus": False}

    assert len(got.messages) == 1
    message = got.messages[0]
    assert message.role == "user" and message.content.type == "text"
    text = message.content.text
    assert BASE_ID in text and '"Contacts"' in text and "duplicate emails" in text
    assert "analyze_table" in text

    assert missing.code == -32602 and "table" in missing.message, missing
    assert unknown.code == -32602, unknown


@pytest.mark.parametrize("mode, version", MODES)
def test_schema_resource_lists_and_reads_the_base_schema(platform, tenant, mode, version):
    straight = _straight(platform, "GET", f"/v0/meta/bases/{BASE_ID}/tables").json()

    async def body():
        async with _sdk(platform, tenant.full_key, mode) as client:
            assert client.protocol_version == version
            resources = (await client.list_resources()).resources
            read = await client.read_resource(SCHEMA_URI)
        # Without schema:read the schema is not offered, and reading it is "not found".
        async with _sdk(platform, tenant.read_key, mode) as client:
            hidden = (await client.list_resources()).resources
            with pytest.raises(MCPError) as refused:
                await client.read_resource(SCHEMA_URI)
        return resources, read, hidden, refused.value

    resources, read, hidden, refused = _run(body)
    by_uri = {str(r.uri): r for r in resources}
    assert SCHEMA_URI in by_uri, by_uri
    assert by_uri[SCHEMA_URI].mime_type == "application/json"

    assert len(read.contents) == 1
    contents = read.contents[0]
    assert str(contents.uri) == SCHEMA_URI and contents.mime_type == "application/json"
    schema = json.loads(contents.text)
    tables = {t["name"]: t for t in schema["tables"]}
    assert TABLE in tables and "Companies" in tables
    assert [(t["id"], t["name"]) for t in schema["tables"]] == [(t["id"], t["name"]) for t in straight["tables"]]
    assert [f["name"] for f in tables[TABLE]["fields"]] == [
        f["name"] for t in straight["tables"] if t["name"] == TABLE for f in t["fields"]
    ]

    assert hidden == []
    # Resource not found: -32002 in the 2025 revisions, -32602 from 2026-07-28 on.
    assert refused.code == (-32602 if version == "2026-07-28" else -32002), refused


# --- 4. the older revisions and the transport's errors, over raw HTTP ----------------------------

JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


def _post(platform: Platform, message, token: str | None, version: str | None = None, **headers) -> requests.Response:
    sent = dict(JSON_HEADERS)
    if token:
        sent.update(_bearer(token))
    if version:
        sent["MCP-Protocol-Version"] = version
    sent.update(headers)
    data = message if isinstance(message, (bytes, str)) else json.dumps(message)
    return requests.post(platform.mcp_url, data=data, headers=sent, timeout=TIMEOUT)


def _rpc(method: str, params: dict | None = None, id: int = 1) -> dict:
    message = {"jsonrpc": "2.0", "id": id, "method": method}
    if params is not None:
        message["params"] = params
    return message


def _rpc_error(resp: requests.Response, status: int, code: int) -> dict:
    assert resp.status_code == status, (resp.status_code, resp.text)
    assert resp.headers["content-type"].startswith("application/json"), resp.headers
    body = resp.json()
    assert body["jsonrpc"] == "2.0" and "result" not in body, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], body
    return body


@pytest.mark.parametrize("version", ["2025-06-18", "2025-03-26"])
def test_initialize_era_revisions_over_raw_http(platform, tenant, version):
    key = tenant.read_key
    init = _post(
        platform,
        _rpc("initialize", {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}),
        key,
    )
    assert init.status_code == 200, init.text
    result = init.json()["result"]
    assert result["protocolVersion"] == version
    assert result["serverInfo"]["name"] == SERVER_NAME
    assert {"tools", "prompts", "resources"} <= set(result["capabilities"])
    assert "mcp-session-id" not in {k.lower() for k in init.headers}

    initialized = _post(platform, {"jsonrpc": "2.0", "method": "notifications/initialized"}, key, version)
    assert initialized.status_code == 202 and initialized.content == b""

    assert _post(platform, _rpc("ping", id=2), key, version).json() == {"jsonrpc": "2.0", "id": 2, "result": {}}

    listed = _post(platform, _rpc("tools/list", id=3), key, version)
    assert listed.status_code == 200, listed.text
    tools = {t["name"]: t for t in listed.json()["result"]["tools"]}
    assert set(tools) == RECORD_READ_TOOLS
    # outputSchema (and structuredContent) came with 2025-06-18.
    assert ("outputSchema" in tools["list_records"]) == (version != "2025-03-26")

    called = _post(platform, _rpc("tools/call", {"name": "list_records", "arguments": _contacts_args()}, id=4), key, version)
    assert called.status_code == 200, called.text
    call = called.json()["result"]
    assert call.get("isError") in (None, False), call
    answer = json.loads(call["content"][0]["text"])
    assert answer["records"] == _straight_records(platform, TABLE)
    if version == "2025-03-26":
        assert "structuredContent" not in call
    else:
        assert call["structuredContent"] == answer

    failed = _post(
        platform,
        _rpc("tools/call", {"name": "list_records", "arguments": _contacts_args(filter_formula="{Name")}, id=5),
        key,
        version,
    )
    assert failed.status_code == 200, failed.text
    assert failed.json()["result"]["isError"] is True
    assert "INVALID_FILTER_BY_FORMULA" in failed.json()["result"]["content"][0]["text"]

    # Errors of a dispatched request: 200 with the JSON-RPC error and the request's id.
    unknown_tool = _post(platform, _rpc("tools/call", {"name": "create_records", "arguments": {}}, id=6), key, version)
    assert _rpc_error(unknown_tool, 200, -32602)["id"] == 6
    unknown_method = _post(platform, _rpc("no/such/method", id=7), key, version)
    assert _rpc_error(unknown_method, 200, -32601)["id"] == 7

    # A batch is allowed by 2025-03-26 only.
    batch = _post(platform, [_rpc("ping", id=8), _rpc("prompts/list", id=9)], key, version)
    if version == "2025-03-26":
        assert batch.status_code == 200, batch.text
        answers = {a["id"]: a for a in batch.json()}
        assert answers[8]["result"] == {}
        assert {p["name"] for p in answers[9]["result"]["prompts"]} == {"analyze_table", "summarize_records"}
    else:
        _rpc_error(batch, 400, -32600)


def test_no_bearer_token_is_401(platform):
    resp = _post(platform, _rpc("tools/list"), None, "2025-11-25")
    assert resp.status_code == 401, resp.text
    assert resp.headers.get("www-authenticate", "").lower().startswith("bearer")
    resp = _post(platform, _rpc("tools/list"), "pak_not-a-real-key", "2025-11-25")
    assert resp.status_code == 401, resp.text


def test_bad_json_is_a_parse_error_with_a_null_id(platform, tenant):
    resp = _post(platform, b'{"jsonrpc": "2.0", "id": 1, "method": "tools/li', tenant.read_key)
    body = _rpc_error(resp, 400, -32700)
    assert "id" in body and body["id"] is None, body


def test_unknown_method_is_method_not_found(platform, tenant):
    body = _rpc_error(_post(platform, _rpc("no/such/method", id=11), tenant.read_key, "2025-11-25"), 200, -32601)
    assert body["id"] == 11
    # 2026-07-28: the same code with 404.
    meta = {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    resp = _post(
        platform,
        _rpc("no/such/method", {"_meta": meta}, id=12),
        tenant.read_key,
        "2026-07-28",
        **{"Mcp-Method": "no/such/method"},
    )
    assert _rpc_error(resp, 404, -32601)["id"] == 12


def test_unknown_tool_is_invalid_params_in_the_2025_era(platform, tenant):
    resp = _post(
        platform, _rpc("tools/call", {"name": "no_such_tool", "arguments": {}}, id=13), tenant.full_key, "2025-11-25"
    )
    body = _rpc_error(resp, 200, -32602)
    assert body["id"] == 13 and "no_such_tool" in body["error"]["message"]


@pytest.mark.parametrize("version", ["2025-06-18", "2025-03-26"])
def test_bad_tool_arguments_are_invalid_params_before_2025_11_25(platform, tenant, version):
    # list_records without its required base_id, and with a field the schema does not allow.
    for arguments in ({"table": "Contacts"}, {"base_id": BASE_ID, "table": "Contacts", "colour": "red"}):
        resp = _post(
            platform, _rpc("tools/call", {"name": "list_records", "arguments": arguments}, id=21), tenant.full_key, version
        )
        body = _rpc_error(resp, 200, -32602)
        assert body["id"] == 21


def test_bad_tool_arguments_are_a_tool_error_from_2025_11_25(platform, tenant):
    resp = _post(
        platform,
        _rpc("tools/call", {"name": "list_records", "arguments": {"table": "Contacts"}}, id=22),
        tenant.full_key,
        "2025-11-25",
    )
    assert resp.status_code == 200, resp.text
    result = resp.json()["result"]
    assert result["isError"] is True, result
    assert "base_id" in result["content"][0]["text"], result


def test_a_foreign_origin_is_forbidden(platform, tenant):
    evil = {"Origin": "https://evil.example"}
    resp = _post(platform, _rpc("tools/list"), tenant.full_key, "2025-11-25", **evil)
    assert resp.status_code == 403, resp.text
    body = resp.json()
    assert body["jsonrpc"] == "2.0" and "id" not in body and body["error"]["code"] == -32600, body
    resp = requests.get(platform.mcp_url, headers={**_bearer(tenant.full_key), **evil}, timeout=TIMEOUT)
    assert resp.status_code == 403, resp.text
    # Without an Origin (any non-browser client) the same request is served.
    assert _post(platform, _rpc("tools/list"), tenant.full_key, "2025-11-25").status_code == 200


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_a_foreign_origin_is_forbidden_before_authentication(platform, method):
    headers = {**JSON_HEADERS, "Origin": "https://evil.example"}
    resp = requests.request(
        method,
        platform.mcp_url,
        data=json.dumps(_rpc("tools/list")) if method == "POST" else None,
        headers=headers,
        timeout=TIMEOUT,
    )
    assert resp.status_code == 403, (resp.status_code, resp.text)


def test_get_and_delete_are_405(platform, tenant):
    for method in ("GET", "DELETE"):
        resp = requests.request(
            method, platform.mcp_url, headers={**_bearer(tenant.read_key), "Accept": "text/event-stream"}, timeout=TIMEOUT
        )
        assert resp.status_code == 405, (method, resp.status_code, resp.text)
        assert resp.headers.get("allow") == "POST", resp.headers
