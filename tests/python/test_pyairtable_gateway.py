"""pyairtable against the `/v0` gateway of the dev server, compared with the sandbox itself.

Runs against one dev server for the module (``conftest.py``'s ``platform``: ``DEVSERVER_BIN`` on
free ports, with its in-process Airtable sandbox and a temporary ``DATA_DIR``). A tenant registers, connects
the sandbox's demo Airtable token and creates an API key; pyairtable then talks to the gateway
with ``Api(<api key>, endpoint_url=<dev server>)`` ("through the gateway") and to the sandbox with
``Api(<demo token>, endpoint_url=<sandbox>)`` ("straight"), and the two must agree.

Every test works on its own table, created straight in the sandbox before any test runs, so no
test sees another's records, the schema does not change under the schema test, and nothing the
gateway cached can go stale behind its back (the sandbox is never reset: a reset would change
data without the gateway knowing). The sandbox's own rate limits are off except in the fault
test, so that the straight calls this file makes can never earn the gateway a 429 (and with it
a pause of the whole base, up to Airtable's 30 s lockout).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from urllib.parse import quote

import pytest
import requests
from platform_support import (
    BASE_ID,
    SANDBOX_TOKEN,
    TIMEOUT,
    Platform,
    Tenant,
    api_key as _api_key,
    bearer as _bearer,
    new_tenant as _new_tenant,
    sandbox_admin as _sandbox,
)
from pyairtable import Api

# The dev server (the `platform` fixture) comes from conftest.py, one per module.


def _counters(platform: Platform) -> dict:
    return _sandbox(platform, "GET", "/_sandbox/counters")


# --- tenants, keys, clients -------------------------------------------------------------------


@pytest.fixture(scope="module")
def tenant(platform) -> Tenant:
    return _new_tenant(platform, "gateway", connect=True)


@pytest.fixture(scope="module")
def gateway(platform, tenant) -> Api:
    """pyairtable as a user would point it at us: our API key and the dev server's URL."""
    return Api(tenant.key, timeout=TIMEOUT, endpoint_url=platform.url)


@pytest.fixture(scope="module")
def straight(platform) -> Api:
    """pyairtable straight against the sandbox, with the Airtable token."""
    return Api(SANDBOX_TOKEN, timeout=TIMEOUT, endpoint_url=platform.sandbox_url)


FIELDS = [
    {"name": "Name", "type": "singleLineText"},
    {"name": "N", "type": "number", "options": {"precision": 0}},
    {
        "name": "Colour",
        "type": "singleSelect",
        "options": {"choices": [{"name": "red"}, {"name": "green"}, {"name": "blue"}]},
    },
    {"name": "Notes", "type": "multilineText"},
]


@dataclass
class Tables:
    paging: str
    writes: str
    cache: str
    idempotency: str
    scopes: str
    faults: str


@pytest.fixture(scope="module")
def tables(straight) -> Tables:
    """One fresh table per test, all created before the first test, straight in the sandbox.

    Names carry a space so that every gateway path is percent-encoded.
    """
    run = uuid.uuid4().hex[:6]
    names = Tables(**{kind: f"Gw {kind} {run}" for kind in Tables.__dataclass_fields__})
    base = straight.base(BASE_ID)
    for name in vars(names).values():
        base.create_table(name, FIELDS)
    rows = [{"Name": f"Row {i:03d}", "N": (i * 37) % 250, "Colour": ("red", "green", "blue")[i % 3]} for i in range(250)]
    assert len(straight.table(BASE_ID, names.paging).batch_create(rows)) == 250
    return names


def _records_url(platform: Platform, table: str) -> str:
    return f"{platform.url}/v0/{BASE_ID}/{quote(table, safe='')}"


def _assert_error_shape(resp: requests.Response) -> dict:
    """Every platform error is JSON `{"error": {"type": str, "message": str}}`."""
    assert resp.headers.get("content-type", "").startswith("application/json"), resp.headers
    error = resp.json()["error"]
    assert isinstance(error["type"], str) and error["type"], error
    assert isinstance(error["message"], str) and error["message"], error
    return error


# --- the tests ----------------------------------------------------------------------------------


def test_paging_and_list_options_match_the_sandbox(gateway, straight, tables):
    via_gateway = gateway.table(BASE_ID, tables.paging)
    direct = straight.table(BASE_ID, tables.paging)

    pages = list(via_gateway.iterate(page_size=100))
    assert [len(p) for p in pages] == [100, 100, 50]
    assert pages == list(direct.iterate(page_size=100))

    everything = direct.all()
    assert len(everything) == 250
    assert len({r["id"] for r in everything}) == 250
    assert via_gateway.all() == everything

    for options in (
        {"sort": ["-N"]},
        {"sort": ["Colour", "Name"]},
        {"fields": ["Name", "N"]},
        {"formula": "AND({Colour} = 'red', {N} < 100)"},
        {"formula": "{N} >= 200", "sort": ["N"], "fields": ["N"]},
        {"max_records": 120, "page_size": 50},
    ):
        expected = direct.all(**options)
        assert expected, options
        assert via_gateway.all(**options) == expected, options

    # A table named by its id reads the same as by its name.
    table_id = direct.schema().id
    assert gateway.table(BASE_ID, table_id).all() == everything


def test_batch_create_upsert_delete_match_the_sandbox(gateway, straight, tables):
    via_gateway = gateway.table(BASE_ID, tables.writes)
    direct = straight.table(BASE_ID, tables.writes)
    seeded = direct.batch_create([{"Name": f"Seed {i}", "N": i, "Notes": "kept"} for i in range(5)])

    # batch create: 25 records, in 3 requests of at most 10.
    wanted = [{"Name": f"New {i:02d}", "N": 100 + i, "Colour": "green"} for i in range(25)]
    created = via_gateway.batch_create(wanted)
    assert [r["fields"] for r in created] == wanted
    created_ids = [r["id"] for r in created]
    assert len(set(created_ids)) == 25 and all(i.startswith("rec") for i in created_ids)
    state = {r["id"]: r for r in direct.all()}
    assert len(state) == 30
    assert all(state[r["id"]] == r for r in created)

    # batch upsert on Name: three updates (two seeded, one just created) and two creates.
    result = via_gateway.batch_upsert(
        [
            {"fields": {"Name": "Seed 0", "N": 1000}},
            {"fields": {"Name": "Fresh A", "N": 1}},
            {"fields": {"Name": "Seed 1", "N": 1001}},
            {"fields": {"Name": "New 00", "N": 2000}},
            {"fields": {"Name": "Fresh B", "N": 2}},
        ],
        key_fields=["Name"],
    )
    assert sorted(result["updatedRecords"]) == sorted([seeded[0]["id"], seeded[1]["id"], created_ids[0]])
    assert len(result["createdRecords"]) == 2
    assert [r["fields"]["Name"] for r in result["records"]] == ["Seed 0", "Fresh A", "Seed 1", "New 00", "Fresh B"]
    by_name = {r["fields"]["Name"]: r for r in direct.all()}
    assert len(by_name) == 32
    assert {by_name["Fresh A"]["id"], by_name["Fresh B"]["id"]} == set(result["createdRecords"])
    assert by_name["Seed 0"]["fields"] == {"Name": "Seed 0", "N": 1000, "Notes": "kept"}
    assert by_name["Seed 1"]["fields"]["N"] == 1001
    assert by_name["New 00"]["fields"] == {"Name": "New 00", "N": 2000, "Colour": "green"}
    assert all(by_name[r["fields"]["Name"]] == r for r in result["records"])

    # batch delete: 12 records, in 2 requests.
    doomed = created_ids[5:17]
    assert via_gateway.batch_delete(doomed) == [{"id": i, "deleted": True} for i in doomed]
    remaining = direct.all()
    assert len(remaining) == 20
    assert not {r["id"] for r in remaining} & set(doomed)

    # And a read through the gateway after all these writes sees exactly the sandbox's state.
    assert via_gateway.all() == remaining


def test_schema_matches_the_sandbox(gateway, straight, tables):
    assert [(b.id, b.name) for b in gateway.bases()] == [(b.id, b.name) for b in straight.bases()]
    via_gateway = gateway.base(BASE_ID).schema(force=True)
    direct = straight.base(BASE_ID).schema(force=True)
    assert via_gateway.model_dump() == direct.model_dump()
    assert tables.paging in [t.name for t in via_gateway.tables]
    assert (
        gateway.table(BASE_ID, tables.writes).schema().model_dump()
        == straight.table(BASE_ID, tables.writes).schema().model_dump()
    )


def test_list_reads_are_cached_until_a_write(platform, tenant, straight, tables):
    straight.table(BASE_ID, tables.cache).batch_create([{"Name": f"Cached {i}"} for i in range(3)])
    url = _records_url(platform, tables.cache)
    auth = _bearer(tenant.key)

    first = requests.get(url, headers=auth, timeout=TIMEOUT)
    assert first.status_code == 200, first.text
    assert first.headers.get("X-Cache") == "MISS"
    assert len(first.json()["records"]) == 3

    upstream = _counters(platform)["totalRequests"]
    second = requests.get(url, headers=auth, timeout=TIMEOUT)
    assert second.status_code == 200, second.text
    assert second.headers.get("X-Cache") == "HIT"
    assert second.json() == first.json()
    assert _counters(platform)["totalRequests"] == upstream, "a cache hit must not reach Airtable"

    written = requests.post(url, json={"records": [{"fields": {"Name": "Written"}}]}, headers=auth, timeout=TIMEOUT)
    assert written.status_code == 200, written.text
    new_id = written.json()["records"][0]["id"]

    third = requests.get(url, headers=auth, timeout=TIMEOUT)
    assert third.status_code == 200, third.text
    assert third.headers.get("X-Cache") == "MISS", "a write through the gateway must invalidate the table's reads"
    assert new_id in [r["id"] for r in third.json()["records"]]
    assert third.json()["records"] == straight.table(BASE_ID, tables.cache).all()


def test_idempotency_key_replays_the_first_answer(platform, tenant, straight, tables):
    url = _records_url(platform, tables.idempotency)
    key = f"k1-{uuid.uuid4().hex}"
    body = {"records": [{"fields": {"Name": "once", "N": 1}}]}
    headers = {**_bearer(tenant.key), "Idempotency-Key": key}
    direct = straight.table(BASE_ID, tables.idempotency)

    first = requests.post(url, json=body, headers=headers, timeout=TIMEOUT)
    assert first.status_code == 200, first.text
    again = requests.post(url, json=body, headers=headers, timeout=TIMEOUT)
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    rows = direct.all()
    assert [r["id"] for r in rows] == [first.json()["records"][0]["id"]]

    # The same key for another request is refused, and writes nothing.
    other = requests.post(
        url, json={"records": [{"fields": {"Name": "other"}}]}, headers=headers, timeout=TIMEOUT
    )
    assert other.status_code == 422, other.text
    _assert_error_shape(other)
    assert len(direct.all()) == 1

    # A new key is a new request.
    fresh = requests.post(
        url, json=body, headers={**_bearer(tenant.key), "Idempotency-Key": f"k2-{uuid.uuid4().hex}"}, timeout=TIMEOUT
    )
    assert fresh.status_code == 200, fresh.text
    assert fresh.json()["records"][0]["id"] != first.json()["records"][0]["id"]
    assert len(direct.all()) == 2


def test_scopes_and_keys_are_enforced(platform, tenant, straight, tables):
    direct = straight.table(BASE_ID, tables.scopes)
    direct.batch_create([{"Name": "visible"}])
    reader_key = _api_key(platform, tenant.access_token, ["records:read"], name="read only")
    reader = Api(reader_key, timeout=TIMEOUT, endpoint_url=platform.url)

    assert reader.table(BASE_ID, tables.scopes).all() == direct.all()

    with pytest.raises(requests.HTTPError) as err:
        reader.table(BASE_ID, tables.scopes).create({"Name": "forbidden"})
    assert err.value.response.status_code == 403
    _assert_error_shape(err.value.response)
    resp = requests.post(
        _records_url(platform, tables.scopes),
        json={"records": [{"fields": {"Name": "forbidden"}}]},
        headers=_bearer(reader_key),
        timeout=TIMEOUT,
    )
    assert resp.status_code == 403, resp.text
    _assert_error_shape(resp)
    assert [r["fields"]["Name"] for r in direct.all()] == ["visible"]

    # The schema needs schema:read, which this key lacks.
    with pytest.raises(requests.HTTPError) as err:
        reader.base(BASE_ID).schema(force=True)
    assert err.value.response.status_code == 403

    # A key we never issued is refused outright.
    with pytest.raises(requests.HTTPError) as err:
        Api("pak_not-a-real-key", timeout=TIMEOUT, endpoint_url=platform.url).table(BASE_ID, tables.scopes).all()
    assert err.value.response.status_code == 401
    _assert_error_shape(err.value.response)


def test_upstream_faults_and_rate_limits_are_absorbed(platform, tenant, straight, tables):
    """Airtable answering 429, 503 and 502 while its rate limits are on.

    The faults are scripted per route (not random) so that the test is deterministic and can
    check that each one was met. The gateway retries reads on all three, and creates on the three
    Airtable documents as safe to retry, so pyairtable with its defaults (which retry 429 only)
    sees no error; no record may be written twice.
    """
    direct = straight.table(BASE_ID, tables.faults)
    assert direct.all() == []
    creates_faults = [429, 503, "ok", 502]
    list_faults = [503, 502]
    _sandbox(platform, "DELETE", "/_sandbox/counters")
    _sandbox(platform, "POST", "/_sandbox/rate-limits", {"enabled": True})
    _sandbox(
        platform,
        "POST",
        "/_sandbox/faults",
        [
            {"route": "create_records", "sequence": creates_faults},
            {"route": "list_records", "sequence": list_faults},
        ],
    )
    try:
        writer = Api(tenant.key, timeout=TIMEOUT, endpoint_url=platform.url)
        wanted = [{"Name": f"Fault {i:02d}", "N": i} for i in range(30)]
        created = writer.table(BASE_ID, tables.faults).batch_create(wanted)

        reader = Api(tenant.key, timeout=TIMEOUT, endpoint_url=platform.url)
        listed = reader.table(BASE_ID, tables.faults).all()
        counters = _counters(platform)
    finally:
        _sandbox(platform, "DELETE", "/_sandbox/faults")
        _sandbox(platform, "POST", "/_sandbox/rate-limits", {"enabled": False})

    assert [r["fields"] for r in created] == wanted
    assert len({r["id"] for r in created}) == 30
    assert sorted(r["id"] for r in listed) == sorted(r["id"] for r in created)
    rows = direct.all()
    assert sorted(r["fields"]["Name"] for r in rows) == sorted(w["Name"] for w in wanted), "no duplicates"
    assert counters["injectedFaults"] == 5, counters  # every scripted fault was met ("ok" is not one)
    assert counters["rateLimited"] == 0, "the gateway must pace itself under Airtable's limits"


def test_a_tenant_without_an_airtable_connection_is_told_to_connect(platform):
    other = _new_tenant(platform, "unconnected", connect=False)
    resp = requests.get(_records_url(platform, "Companies"), headers=_bearer(other.key), timeout=TIMEOUT)
    assert 400 <= resp.status_code < 500, resp.text
    error = _assert_error_shape(resp)
    assert "connect" in error["message"].lower(), error

    with pytest.raises(requests.HTTPError) as err:
        Api(other.key, timeout=TIMEOUT, endpoint_url=platform.url).table(BASE_ID, "Companies").all()
    assert err.value.response.status_code == resp.status_code
