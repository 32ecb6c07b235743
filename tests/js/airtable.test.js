// The official Airtable.js client (npm `airtable`, pinned in package.json), unmodified, against
// the platform's `/v0` gateway, compared with what the Airtable sandbox stores.
//
// The client is configured as a user would point it at us: `endpointUrl` = the platform and
// `apiKey` = one of our API keys (pak_…). Every check reads the sandbox "straight" (its own URL
// and the demo Airtable token, over plain fetch) to see what the gateway really did. The tables
// are created straight in the sandbox for this run, so no other test's records are seen.
//
// Run by tests/python/test_airtable_js.py, which starts the dev server and sets:
//   PLATFORM_URL   the dev server, e.g. http://127.0.0.1:8080
//   SANDBOX_URL    its Airtable sandbox
//   SANDBOX_TOKEN  the sandbox's demo Airtable token
//   BASE_ID        the demo base
//   WRITE_KEY      an API key with records:read and records:write
//   READ_KEY       an API key with records:read only

'use strict';

const { test, before } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const Airtable = require('airtable');

function env(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set; run this file through tests/python/test_airtable_js.py`);
  }
  return value;
}

const PLATFORM_URL = env('PLATFORM_URL');
const SANDBOX_URL = env('SANDBOX_URL');
const SANDBOX_TOKEN = env('SANDBOX_TOKEN');
const BASE_ID = env('BASE_ID');
const WRITE_KEY = env('WRITE_KEY');
const READ_KEY = env('READ_KEY');

const RUN = crypto.randomBytes(3).toString('hex');
// Names with spaces, so every gateway path is percent-encoded.
const READS = `Js reads ${RUN}`;
const WRITES = `Js writes ${RUN}`;
const COLOURS = ['red', 'green', 'blue'];
const FIELDS = [
  { name: 'Name', type: 'singleLineText' },
  { name: 'N', type: 'number', options: { precision: 0 } },
  { name: 'Colour', type: 'singleSelect', options: { choices: COLOURS.map((name) => ({ name })) } },
  { name: 'Notes', type: 'multilineText' },
];

/** airtable.js as a user would configure it against us. */
function client(apiKey) {
  return new Airtable({ apiKey, endpointUrl: PLATFORM_URL, requestTimeout: 60_000 }).base(BASE_ID);
}

const gateway = client(WRITE_KEY);

// --- the sandbox, straight ---------------------------------------------------------------------

async function straight(method, path, body) {
  const resp = await fetch(SANDBOX_URL + path, {
    method,
    headers: { Authorization: `Bearer ${SANDBOX_TOKEN}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await resp.text();
  return { status: resp.status, body: text ? JSON.parse(text) : null };
}

async function straightOk(method, path, body) {
  const { status, body: answer } = await straight(method, path, body);
  assert.equal(status, 200, `${method} ${path}: ${status} ${JSON.stringify(answer)}`);
  return answer;
}

function tablePath(table) {
  return `/v0/${BASE_ID}/${encodeURIComponent(table)}`;
}

/**
 * Every record of a table as the sandbox lists it, with Airtable's own list parameters (built
 * here with URLSearchParams, independently of airtable.js's query builder).
 */
async function stored(table, { sort = [], fields, filterByFormula, maxRecords } = {}) {
  const records = [];
  let offset;
  do {
    const query = new URLSearchParams({ pageSize: '100' });
    sort.forEach((s, i) => {
      query.append(`sort[${i}][field]`, s.field);
      if (s.direction) query.append(`sort[${i}][direction]`, s.direction);
    });
    (fields || []).forEach((f) => query.append('fields[]', f));
    if (filterByFormula !== undefined) query.append('filterByFormula', filterByFormula);
    if (maxRecords !== undefined) query.append('maxRecords', String(maxRecords));
    if (offset) query.append('offset', offset);
    const page = await straightOk('GET', `${tablePath(table)}?${query}`);
    records.push(...page.records);
    offset = page.offset;
  } while (offset);
  return records;
}

async function storedById(table) {
  return new Map((await stored(table)).map((r) => [r.id, r]));
}

/** What airtable.js hands back for a record, as Airtable's JSON. */
function raw(record) {
  return record._rawJson;
}

/** Runs `action`, which must fail, and returns airtable.js's error. */
async function failure(action) {
  try {
    await action();
  } catch (err) {
    return err;
  }
  assert.fail('expected the call to fail');
}

function assertAirtableError(err, { error, statusCode }) {
  assert.ok(err instanceof Airtable.Error, `not an AirtableError: ${err && err.stack}`);
  assert.equal(err.statusCode, statusCode, `${err.error}: ${err.message}`);
  assert.equal(err.error, error, err.message);
  assert.equal(typeof err.message, 'string');
  assert.ok(err.message.length > 0);
}

// --- setup ---------------------------------------------------------------------------------------

before(async () => {
  for (const name of [READS, WRITES]) {
    await straightOk('POST', `/v0/meta/bases/${BASE_ID}/tables`, { name, fields: FIELDS });
  }
  const rows = Array.from({ length: 250 }, (_, i) => ({
    fields: { Name: `Row ${String(i).padStart(3, '0')}`, N: (i * 37) % 250, Colour: COLOURS[i % 3] },
  }));
  for (let i = 0; i < rows.length; i += 10) {
    await straightOk('POST', tablePath(READS), { records: rows.slice(i, i + 10) });
  }
});

// --- reads ---------------------------------------------------------------------------------------

test('select().all() pages through every record, as the sandbox stores them', async () => {
  const everything = await stored(READS);
  assert.equal(everything.length, 250);
  const all = await gateway(READS).select().all();
  assert.deepEqual(all.map(raw), everything);
  // The table named by its id reads the same.
  const schema = await straightOk('GET', `/v0/meta/bases/${BASE_ID}/tables`);
  const id = schema.tables.find((t) => t.name === READS).id;
  assert.deepEqual((await gateway(id).select().all()).map(raw), everything);
});

test('select() options: sort, filterByFormula, fields, maxRecords, pageSize', async () => {
  for (const options of [
    { sort: [{ field: 'N', direction: 'desc' }] },
    { sort: [{ field: 'Colour' }, { field: 'Name', direction: 'asc' }] },
    { fields: ['Name', 'N'] },
    { filterByFormula: "AND({Colour} = 'red', {N} < 100)" },
    { filterByFormula: '{N} >= 200', sort: [{ field: 'N' }], fields: ['N'] },
    { maxRecords: 120, pageSize: 50 },
  ]) {
    const expected = await stored(READS, options);
    assert.ok(expected.length > 0, JSON.stringify(options));
    const got = await gateway(READS).select(options).all();
    assert.deepEqual(got.map(raw), expected, JSON.stringify(options));
  }
});

test('eachPage() gives pages of pageSize and stops when told', async () => {
  const expected = await stored(READS, { sort: [{ field: 'Name' }] });
  const sizes = [];
  const seen = [];
  await gateway(READS)
    .select({ pageSize: 100, sort: [{ field: 'Name' }] })
    .eachPage((records, fetchNextPage) => {
      sizes.push(records.length);
      seen.push(...records.map(raw));
      fetchNextPage();
    });
  assert.deepEqual(sizes, [100, 100, 50]);
  assert.deepEqual(seen, expected);

  // Not calling fetchNextPage ends the walk after one page (the promise never settles then, so
  // the callback form is used, as airtable.js documents).
  const first = await new Promise((resolve, reject) => {
    gateway(READS)
      .select({ pageSize: 30, sort: [{ field: 'Name' }] })
      .eachPage(
        (records) => resolve(records),
        (err) => (err ? reject(err) : resolve(null)),
      );
  });
  assert.deepEqual(first.map(raw), expected.slice(0, 30));
});

test('firstPage() is the first page only', async () => {
  const expected = await stored(READS, { sort: [{ field: 'N', direction: 'desc' }, { field: 'Name' }] });
  const page = await gateway(READS)
    .select({ pageSize: 7, sort: [{ field: 'N', direction: 'desc' }, { field: 'Name' }] })
    .firstPage();
  assert.deepEqual(page.map(raw), expected.slice(0, 7));
});

test("select({method: 'post'}) lists through POST listRecords", async () => {
  const options = { filterByFormula: "{Colour} = 'blue'", sort: [{ field: 'N' }], fields: ['Name', 'N'] };
  const expected = await stored(READS, options);
  const got = await gateway(READS)
    .select({ ...options, method: 'post', pageSize: 40 })
    .all();
  assert.deepEqual(got.map(raw), expected);
});

test('find() is the record', async () => {
  const [one] = await stored(READS, { maxRecords: 1 });
  const found = await gateway(READS).find(one.id);
  assert.equal(found.id, one.id);
  assert.deepEqual(raw(found), await straightOk('GET', `${tablePath(READS)}/${one.id}`));
  assert.equal(found.get('Name'), one.fields.Name);
});

// --- writes --------------------------------------------------------------------------------------

test('create one and many (ten a call), with typecast', async () => {
  const table = gateway(WRITES);
  const one = await table.create({ Name: 'Solo', N: 1, Notes: 'kept' });
  assert.match(one.id, /^rec/);
  assert.deepEqual(one.fields, { Name: 'Solo', N: 1, Notes: 'kept' });

  const wanted = Array.from({ length: 10 }, (_, i) => ({ fields: { Name: `Many ${i}`, N: 100 + i, Colour: 'green' } }));
  const many = await table.create(wanted);
  assert.equal(many.length, 10);
  assert.deepEqual(many.map((r) => r.fields), wanted.map((w) => w.fields));

  const typed = await table.create([{ fields: { Name: 'Typed', N: 7, Colour: 'purple' } }], { typecast: true });
  assert.equal(typed[0].get('Colour'), 'purple');

  const state = await storedById(WRITES);
  assert.equal(state.size, 12);
  for (const record of [one, ...many, ...typed]) {
    assert.deepEqual(state.get(record.id), raw(record));
  }
});

test('update (PATCH) one and many keeps the fields not named', async () => {
  const table = gateway(WRITES);
  const [a, b, c] = await table.create([
    { fields: { Name: 'Up A', N: 1, Notes: 'a' } },
    { fields: { Name: 'Up B', N: 2, Notes: 'b' } },
    { fields: { Name: 'Up C', N: 3, Notes: 'c' } },
  ]);

  const one = await table.update(a.id, { N: 10 });
  assert.deepEqual(one.fields, { Name: 'Up A', N: 10, Notes: 'a' });

  const many = await table.update([
    { id: b.id, fields: { N: 20 } },
    { id: c.id, fields: { Colour: 'red' } },
  ]);
  assert.deepEqual(many.map((r) => r.id), [b.id, c.id]);

  const state = await storedById(WRITES);
  assert.deepEqual(state.get(a.id).fields, { Name: 'Up A', N: 10, Notes: 'a' });
  assert.deepEqual(state.get(b.id).fields, { Name: 'Up B', N: 20, Notes: 'b' });
  assert.deepEqual(state.get(c.id).fields, { Name: 'Up C', N: 3, Notes: 'c', Colour: 'red' });
  assert.deepEqual(many.map(raw), [state.get(b.id), state.get(c.id)]);
});

test('replace (PUT) one and many clears the fields not named', async () => {
  const table = gateway(WRITES);
  const [a, b, c] = await table.create([
    { fields: { Name: 'Re A', N: 1, Notes: 'a' } },
    { fields: { Name: 'Re B', N: 2, Notes: 'b' } },
    { fields: { Name: 'Re C', N: 3, Notes: 'c' } },
  ]);

  const one = await table.replace(a.id, { Name: 'Re A2' });
  assert.deepEqual(one.fields, { Name: 'Re A2' });

  const many = await table.replace([
    { id: b.id, fields: { N: 22 } },
    { id: c.id, fields: { Name: 'Re C2', Colour: 'blue' } },
  ]);
  assert.equal(many.length, 2);

  const state = await storedById(WRITES);
  assert.deepEqual(state.get(a.id).fields, { Name: 'Re A2' });
  assert.deepEqual(state.get(b.id).fields, { N: 22 });
  assert.deepEqual(state.get(c.id).fields, { Name: 'Re C2', Colour: 'blue' });
});

test('destroy one and many', async () => {
  const table = gateway(WRITES);
  const doomed = await table.create(
    Array.from({ length: 6 }, (_, i) => ({ fields: { Name: `Doomed ${i}` } })),
  );
  const before = await storedById(WRITES);

  const gone = await table.destroy(doomed[0].id);
  assert.equal(gone.id, doomed[0].id);

  const rest = doomed.slice(1).map((r) => r.id);
  const many = await table.destroy(rest);
  assert.deepEqual(many.map((r) => r.id), rest);

  const after = await storedById(WRITES);
  assert.equal(after.size, before.size - 6);
  for (const record of doomed) assert.ok(!after.has(record.id), record.id);
});

test('a read through the gateway after the writes is the sandbox state', async () => {
  assert.deepEqual((await gateway(WRITES).select().all()).map(raw), await stored(WRITES));
});

// --- errors --------------------------------------------------------------------------------------

test('an unknown record is a 404 NOT_FOUND, as Airtable answers it', async () => {
  const missing = 'recAAAAAAAAAAAAAA';
  const straightAnswer = await straight('GET', `${tablePath(READS)}/${missing}`);
  assert.equal(straightAnswer.status, 404);
  const err = await failure(() => gateway(READS).find(missing));
  assertAirtableError(err, { error: 'NOT_FOUND', statusCode: 404 });
});

test('a malformed record id is refused by the gateway with a 404 NOT_FOUND', async () => {
  const err = await failure(() => gateway(READS).find('not-a-record-id'));
  assertAirtableError(err, { error: 'NOT_FOUND', statusCode: 404 });
});

test('an unknown table answers what Airtable answers', async () => {
  const name = `No such table ${RUN}`;
  const expected = await straight('GET', tablePath(name));
  assert.ok(expected.status >= 400, JSON.stringify(expected));
  const err = await failure(() => gateway(name).select().all());
  assert.ok(err instanceof Airtable.Error, String(err));
  assert.equal(err.statusCode, expected.status);
  // airtable.js keeps Airtable's type for the statuses it does not rename (403 → NOT_AUTHORIZED).
  const renamed = { 401: 'AUTHENTICATION_REQUIRED', 403: 'NOT_AUTHORIZED' }[expected.status];
  assert.equal(err.error, renamed || expected.body.error.type || expected.body.error);
});

test('a bad formula is a 422 with Airtable type and message', async () => {
  const formula = '{Name} ==';
  const query = new URLSearchParams({ filterByFormula: formula });
  const expected = await straight('GET', `${tablePath(READS)}?${query}`);
  assert.equal(expected.status, 422);
  const err = await failure(() => gateway(READS).select({ filterByFormula: formula }).all());
  assertAirtableError(err, { error: expected.body.error.type, statusCode: 422 });
  assert.equal(err.error, 'INVALID_FILTER_BY_FORMULA');
  assert.equal(err.message, expected.body.error.message);
});

test('a records:read key reads but a write is a 403 and writes nothing', async () => {
  const reader = client(READ_KEY);
  const before = await stored(WRITES);
  assert.deepEqual((await reader(WRITES).select().all()).map(raw), before);

  const created = await failure(() => reader(WRITES).create({ Name: 'Forbidden' }));
  assertAirtableError(created, { error: 'NOT_AUTHORIZED', statusCode: 403 });
  const updated = await failure(() => reader(WRITES).update([{ id: before[0].id, fields: { N: 666 } }]));
  assertAirtableError(updated, { error: 'NOT_AUTHORIZED', statusCode: 403 });
  const destroyed = await failure(() => reader(WRITES).destroy(before[0].id));
  assertAirtableError(destroyed, { error: 'NOT_AUTHORIZED', statusCode: 403 });

  assert.deepEqual(await stored(WRITES), before);
});

test('a key we never issued is a 401', async () => {
  const err = await failure(() => client('pak_not-a-real-key').table(READS).select().firstPage());
  assertAirtableError(err, { error: 'AUTHENTICATION_REQUIRED', statusCode: 401 });
});
