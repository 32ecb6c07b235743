"""pyairtable against the local Airtable sandbox.

Runs against the sandbox binary (the ``sandbox_url`` fixture of ``conftest.py``) with the demo CRM
seed and drives it through pyairtable's public API: paging, create, batch
create, upsert, update, delete, and schema. Rate limiting stays on (pyairtable's own retries cope
with it, and these tests stay under 5 requests per second per base in aggregate only loosely), so
each test that writes a lot uses a fresh sandbox reset through the admin endpoint.
"""

import pytest
from platform_support import BASE_ID, SANDBOX_TOKEN as TOKEN, sandbox_admin
from pyairtable import Api

# The sandbox (the `sandbox_url` fixture) comes from conftest.py, one per session.


def _admin(url: str, path: str, body: dict | None = None) -> dict:
    return sandbox_admin(url, "POST", path, body or {})


@pytest.fixture
def api(sandbox_url):
    # A fresh demo base per test; rate limits off so tests measure behaviour, not pacing.
    _admin(sandbox_url, "/_sandbox/reset")
    _admin(sandbox_url, "/_sandbox/rate-limits", {"enabled": False})
    return Api(TOKEN, timeout=(5, 30), endpoint_url=sandbox_url)


def test_iterate_pages(api):
    table = api.table(BASE_ID, "Contacts")
    pages = list(table.iterate(page_size=3))
    assert [len(p) for p in pages] == [3, 3, 3, 1]
    ids = [r["id"] for page in pages for r in page]
    assert len(set(ids)) == 10
    assert all(r["id"].startswith("rec") and len(r["id"]) == 17 for page in pages for r in page)
    assert len(table.all(max_records=4)) == 4


def test_sort_fields_formula_and_view(api):
    table = api.table(BASE_ID, "Deals")
    rows = table.all(sort=["-Amount"], fields=["Name", "Amount"])
    amounts = [r["fields"]["Amount"] for r in rows]
    assert amounts == sorted(amounts, reverse=True)
    assert all(set(r["fields"]) <= {"Name", "Amount"} for r in rows)
    won = table.all(formula="{Stage} = 'Won'")
    assert [r["fields"]["Name"] for r in won] == ["Bluebird expansion"]
    open_deals = table.all(view="Open deals")
    assert {r["fields"]["Stage"] for r in open_deals} <= {"Lead", "Qualified", "Proposal"}
    by_id = table.first(use_field_ids=True)
    assert all(k.startswith("fld") for k in by_id["fields"])


def test_create_and_batch_create(api):
    table = api.table(BASE_ID, "Companies")
    one = table.create({"Name": "Foxglove Inc", "Industry": "Retail", "Employees": 7})
    assert one["fields"]["Name"] == "Foxglove Inc"
    assert table.get(one["id"])["fields"]["Employees"] == 7
    many = table.batch_create([{"Name": f"Company {i}", "Employees": i} for i in range(25)])
    assert len(many) == 25
    assert len(table.all()) == 5 + 1 + 25


def test_typecast_adds_select_option(api):
    table = api.table(BASE_ID, "Companies")
    rec = table.create({"Name": "Gamma", "Industry": "Aerospace"}, typecast=True)
    assert rec["fields"]["Industry"] == "Aerospace"
    schema = api.base(BASE_ID).schema(force=True)
    industry = schema.table("Companies").field("Industry")
    assert "Aerospace" in [c.name for c in industry.options.choices]


def test_update_replace_and_delete(api):
    table = api.table(BASE_ID, "Contacts")
    rec = table.create({"Name": "Kim", "Title": "CFO", "Email": "kim@example.com"})
    patched = table.update(rec["id"], {"Title": "CEO"})
    assert patched["fields"]["Email"] == "kim@example.com"
    assert patched["fields"]["Title"] == "CEO"
    replaced = table.update(rec["id"], {"Name": "Kim R"}, replace=True)
    assert "Email" not in replaced["fields"]
    assert replaced["fields"]["Name"] == "Kim R"
    assert table.delete(rec["id"]) == {"id": rec["id"], "deleted": True}
    created = table.batch_create([{"Name": f"Temp {i}"} for i in range(12)])
    deleted = table.batch_delete([r["id"] for r in created])
    assert len(deleted) == 12 and all(d["deleted"] for d in deleted)


def test_batch_upsert(api):
    table = api.table(BASE_ID, "Companies")
    result = table.batch_upsert(
        [
            {"fields": {"Name": "Acme Robotics", "Employees": 300}},
            {"fields": {"Name": "Brand New Co", "Employees": 3}},
        ],
        key_fields=["Name"],
    )
    assert len(result["createdRecords"]) == 1
    assert result["updatedRecords"] == ["recCo000000000001"]
    acme = table.get("recCo000000000001")
    assert acme["fields"]["Employees"] == 300


def test_schema_and_bases(api):
    assert [b.id for b in api.bases()] == [BASE_ID]
    schema = api.base(BASE_ID).schema()
    names = [t.name for t in schema.tables]
    assert names == ["Companies", "Contacts", "Deals"]
    deals = schema.table("Deals")
    assert deals.field("Stage").type == "singleSelect"
    assert deals.primary_field_id == deals.fields[0].id
    assert api.whoami()["id"].startswith("usr")


def test_errors_surface_as_http_errors(api):
    import requests

    table = api.table(BASE_ID, "Companies")
    with pytest.raises(requests.HTTPError) as err:
        table.create({"Nope": 1})
    assert err.value.response.status_code == 422
    assert err.value.response.json()["error"]["type"] == "UNKNOWN_FIELD_NAME"
    bad = Api("patWrong.token", endpoint_url=api.endpoint_url).table(BASE_ID, "Companies")
    with pytest.raises(requests.HTTPError) as err:
        bad.all()
    assert err.value.response.status_code == 401


def test_retries_scripted_429s_and_counters(api, sandbox_url):
    _admin(sandbox_url, "/_sandbox/faults", {"route": "list_records", "sequence": [429, 429]})
    rows = api.table(BASE_ID, "Deals").all()
    assert len(rows) == 7
    counters = sandbox_admin(sandbox_url, "GET", "/_sandbox/counters")
    route = counters["routes"]["list_records"]
    assert route["requests"] == 3
    assert route["injectedFaults"] == 2
    assert counters["rateLimited"] == 0
