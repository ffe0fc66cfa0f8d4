import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { print, type DocumentNode } from 'graphql';
import { isNonNullType } from 'graphql';
import { Client } from 'pg';
import request from 'supertest';
import WebSocket from 'ws';
import { rng, type Rng } from '../../src/shared/random';
import { loadConfig } from '../../src/platform/config';
import { openDatabase } from '../../src/platform/db';
import { bootApp, TEST_PII_KEY, usingPostgres, type TestApp } from '../support/app';
import { buildDist, startServer, type ServerProcess } from '../support/process';
import { probeOperations, valueFor, type ProbeOperation, type ProbeTargets } from '../support/schema-probe';

/**
 * A seeded flood of hostile requests over HTTP (/graphql, /v1) and graphql-ws: malformed JSON and
 * documents, fragment and alias bombs, deep nesting, huge documents and arrays, NUL and lone
 * surrogates in every string argument the schema probes fill, wrong types, impossible dates,
 * injection-like strings, bad Segment payloads and gzip bombs. Nothing may answer 5xx or
 * INTERNAL_SERVER_ERROR, nothing is written (a READ key, no key or a wrong key), no single task of
 * the server holds its event loop for more than 100 ms (MAX_TASK_MS), its event-loop delay stays
 * bounded (MAX_LOOP_HOLD_MS), and its memory stays bounded.
 *
 * The server runs as a separate process (`node dist/src/main.js`, as users run it), so that what is
 * measured — its event-loop delay and resident memory, read from its own /metrics during the flood
 * — is the server's alone, not the load generator's.
 */
const SEED = 20261203;
const HTTP_REQUESTS = 1200;
const WS_MESSAGES = 400;
const CONCURRENCY = 8;
const MiB = 1024 * 1024;

/**
 * The longest the server may hold its event loop during the flood. The target is 100 ms per request;
 * measured here on 2 shared cores with eight requests in flight, the longest single hold (GC
 * included) is 70–170 ms, so this asserts 250 ms: far below what the unguarded server held (seconds
 * for a fragment bomb, for good at 38 levels; 860 ms per 40 KB string scanned for personal data).
 */
const MAX_LOOP_HOLD_MS = 250;
/**
 * The longest one task of the server — one callback or promise job, run to its end without returning
 * to the event loop — may take during the flood: the issue's 100 ms per request. Timed inside the
 * server process by tests/support/longest-task.cjs (measured 41–59 ms on 2 shared cores, embedded).
 */
const MAX_TASK_MS = 100;
const TASK_LOG = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'siyu-flood-tasks-')), 'tasks.log');
/** How much the server's resident memory may grow over the flood. */
const MAX_RSS_GROWTH_MiB = 300;

const SERVER_ENV = {
  HOST: '127.0.0.1',
  PORT: '0',
  LOG_LEVEL: 'warn',
  SIYU_SWEEP_INTERVAL_MS: '0',
  SIYU_DUE_INTERVAL_MS: '0',
  SIYU_RATE_LIMIT_PER_SEC: '1000000',
  SIYU_INGEST_RATE_LIMIT_PER_SEC: '1000000',
  SIYU_WS_MAX_CONNECTIONS_PER_KEY: '1000',
  NODE_OPTIONS: `--require ${JSON.stringify(path.join(__dirname, '..', 'support', 'longest-task.cjs'))}`,
  SIYU_TEST_TASK_LOG: TASK_LOG,
};

/** The server's tasks that started within [from, to] (ms since the epoch), longest first. */
function tasksBetween(from: number, to: number): { at: number; ms: number; type: string }[] {
  const text = fs.existsSync(TASK_LOG) ? fs.readFileSync(TASK_LOG, 'utf8') : '';
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [at, ms, type] = line.split(' ');
      return { at: Number(at), ms: Number(ms), type };
    })
    .filter((t) => t.at >= from && t.at <= to)
    .sort((a, b) => b.ms - a.ms);
}

/** The flood's target: a server process, its workspace, an admin key, and a way to count its rows. */
interface Target {
  url: string;
  workspaceId: string;
  adminKey: string;
  server: ServerProcess;
  /** Rows of every table with a workspace_id, for the workspace (the embedded server is stopped to read them). */
  rows(): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

const ROW_TABLES = `SELECT DISTINCT table_name FROM information_schema.columns WHERE column_name = 'workspace_id' AND table_schema = current_schema() ORDER BY table_name`;

async function countRows(query: (sql: string, params?: unknown[]) => Promise<{ [k: string]: unknown }[]>, workspaceId: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const { table_name } of (await query(ROW_TABLES)) as { table_name: string }[]) {
    const [c] = await query(`SELECT count(*)::int AS n FROM "${table_name}" WHERE workspace_id = $1`, [workspaceId]);
    out[table_name] = c.n as number;
  }
  return out;
}

async function stopServer(server: ServerProcess): Promise<void> {
  server.child.kill('SIGTERM');
  await server.exited;
}

async function listening(server: ServerProcess): Promise<string> {
  const [, url] = await server.waitFor(/GraphQL:\s+(http:\/\/\S+)\/graphql/, 90_000);
  return url;
}

/** PostgreSQL: a workspace made in-process on the run's test database; the server process uses the same database. */
async function postgresTarget(): Promise<Target> {
  const setup: TestApp = await bootApp();
  const { workspaceId, adminKey } = await setup.newWorkspace('flood');
  await setup.stop();
  const dbUrl = process.env.SIYU_TEST_DATABASE_URL!;
  const server = startServer({ ...SERVER_ENV, DATABASE_URL: dbUrl, SIYU_PII_KEY: TEST_PII_KEY });
  const url = await listening(server);
  return {
    url,
    workspaceId,
    adminKey,
    server,
    async rows() {
      const c = new Client({ connectionString: dbUrl });
      await c.connect();
      try {
        return await countRows(async (sql, params) => (await c.query(sql, params as unknown[])).rows, workspaceId);
      } finally {
        await c.end();
      }
    },
    stop: () => stopServer(server),
  };
}

/** Embedded: a fresh data directory; the server prints its generated admin key of workspace "default". */
async function embeddedTarget(): Promise<Target> {
  const dataDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'siyu-flood-')), 'data');
  const env = { ...SERVER_ENV, SIYU_DATA_DIR: dataDir };
  let server = startServer(env);
  let url = await listening(server);
  const [, adminKey] = await server.waitFor(/^\s+(siyu_[A-Za-z0-9_-]{32})$/m);
  const me = await request(url).post('/graphql').set('authorization', `Bearer ${adminKey}`).send({ query: '{ me { workspace { id } } }' });
  const workspaceId: string = me.body.data.me.workspace.id;
  const target: Target = {
    url,
    workspaceId,
    adminKey,
    server,
    async rows() {
      // One process owns a data directory: stop the server, count, start it again.
      await stopServer(target.server);
      const db = await openDatabase(loadConfig({ SIYU_DATA_DIR: dataDir, SIYU_AUTO_MIGRATE: 'false' }));
      try {
        return await countRows((sql, params) => db.dataSource.query(sql, params), workspaceId);
      } finally {
        await db.close();
        target.server = server = startServer(env);
        target.url = url = await listening(server);
      }
    },
    stop: () => stopServer(target.server),
  };
  return target;
}

/** A remote stand-in for the parts of TestApp the schema probes use. */
function remoteApp(target: Target): TestApp {
  return {
    gql: async (doc: unknown, variables?: unknown, key?: string | null) => {
      const query = typeof doc === 'string' ? doc : print(doc as DocumentNode);
      let r = request(target.url).post('/graphql').set('content-type', 'application/json');
      if (key) r = r.set('authorization', `Bearer ${key}`);
      const res = await r.send({ query, variables });
      return { status: res.status, data: res.body.data, errors: res.body.errors };
    },
  } as unknown as TestApp;
}

/** The server's own figures from its /metrics: event-loop delay max since the last scrape, resident memory. */
async function serverFigures(url: string): Promise<{ loopMaxMs: number; rssMiB: number }> {
  const text = (await request(url).get('/metrics')).text;
  const value = (name: string) => Number(text.match(new RegExp(`^${name} ([0-9.e+-]+)$`, 'm'))?.[1] ?? NaN);
  return { loopMaxMs: value('siyu_nodejs_eventloop_lag_max_seconds') * 1000, rssMiB: value('siyu_process_resident_memory_bytes') / MiB };
}

let target: Target;
beforeAll(async () => {
  buildDist();
  target = usingPostgres() ? await postgresTarget() : await embeddedTarget();
}, 240_000);
afterAll(async () => {
  await target?.stop();
  fs.rmSync(path.dirname(TASK_LOG), { recursive: true, force: true });
});

const INJECTIONS = ["'; DROP TABLE events; --", '{"$gt":""}', "1' OR '1'='1", '<script>alert(1)</script>', '${jndi:ldap://x/a}', '../../etc/passwd', '％００', 'null', '\\u0000'];
const UNSTORABLE = ['\u0000', 'a\u0000b', '\ud800', 'x\udfffy', '\udbff\u0000'];
const BAD_DATES = ['2026-02-30', '2026-02-29T00:00:00Z', '2026-04-31T10:00:00+08:00', '2026-13-01', 'yesterday', '0000-00-00'];

/** Small on the wire, far over the body limits once inflated (made once: compressing is the client's cost). */
const GZIP_BOMBS = [
  gzipSync(`{"query":"{ me { role } }","pad":"${'a'.repeat(4 * MiB)}"}`),
  gzipSync(`{"batch":[${'{"type":"track","event":"x","userId":"u"},'.repeat(100_000)}{}]}`),
];

function fragmentBomb(levels: number): string {
  let q = `query { ...F${levels} } fragment F0 on Query { me { role } }`;
  for (let i = 1; i <= levels; i++) q += ` fragment F${i} on Query { ...F${i - 1} ...F${i - 1} }`;
  return q;
}

/** A hostile GraphQL document (with variables), of one of many kinds. */
function hostileDocument(r: Rng, probes: ProbeOperation[]): { query: unknown; variables?: unknown; operationName?: unknown } {
  switch (r.int(12)) {
    case 0:
      return { query: fragmentBomb(8 + r.int(40)) };
    case 1:
      return { query: `{ ${Array.from({ length: r.pick([20, 101, 500, 3000, 6000]) }, (_, i) => `a${i}: me { role workspace { name } }`).join(' ')} }` };
    case 2: {
      const n = 50 + r.int(3000);
      return { query: `{ ${'me { workspace { '.repeat(1)}${'x { '.repeat(n)}y${' }'.repeat(n)} } } }` };
    }
    case 3:
      return { query: r.chance(0.5) ? `{ ${'me { role } '.repeat(10_000 + r.int(25_000))} }` : `{ me(${'a: 1, '.repeat(30_000)}) { role } }` };
    case 4:
      return { query: `${'{'.repeat(1 + r.int(20_000))}` };
    case 5:
      return { query: 'query Q($t: [String!]) { profiles(first: 5, filter: { tags: $t }) { edges { node { id } } } }', variables: { t: Array.from({ length: 1000 + r.int(40_000) }, (_, i) => `t${i}`) } };
    case 6: {
      const bad = r.pick([r.pick(UNSTORABLE), r.pick(INJECTIONS)]);
      return { query: r.pick(['{ tag(key: "KEY") { key } }', '{ pathAnalysis(startEvent: "KEY") { depth } }', '{ auditLog(filter: { action: "KEY" }) { entries { id } } }']).replace('KEY', JSON.stringify(bad).slice(1, -1)) };
    }
    case 7:
      return {
        query: r.pick([
          'query Q($f: AuditLogFilter) { auditLog(filter: $f) { entries { id } } }',
          'query Q($f: ProfileFilter) { profiles(first: 1, filter: $f) { edges { node { id } } } }',
        ]),
        variables: { f: r.pick([{ from: r.pick(BAD_DATES) }, { lastSeenFrom: r.pick(BAD_DATES) }, { action: 1 }, { from: 12 }, 'nope', [1]]) },
      };
    case 8:
      return { query: `{ kpi(metric: DAU, range: { from: "${r.pick(BAD_DATES)}", to: "${r.pick(BAD_DATES)}" }) { label } }` };
    case 9:
      return { query: r.pick([42, null, ['{ me { role } }'], { a: 1 }, '', 'subscription { workspaceUpdated { name } }', 'mutation { ingestEvents(events: []) { accepted } }', '{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }']), operationName: r.pick([undefined, 7, 'Nope', '\u0000']) };
    default: {
      // Every string the probes fill, in turn, with a NUL or a lone surrogate; other values as generated.
      const p = r.pick(probes);
      const variables = structuredClone(p.vars);
      const leaves = stringLeaves(variables);
      if (leaves.length) {
        const [obj, key] = r.pick(leaves);
        (obj as Record<string, unknown>)[key] = r.chance(0.8) ? r.pick(UNSTORABLE) : r.pick(INJECTIONS);
      }
      return { query: p.doc, variables };
    }
  }
}

/** Every (container, key) holding a string, inside `root`. */
function stringLeaves(root: unknown): [object, string | number][] {
  const out: [object, string | number][] = [];
  const walk = (v: unknown): void => {
    if (!v || typeof v !== 'object') return;
    for (const [k, x] of Object.entries(v)) {
      if (typeof x === 'string') out.push([v, Array.isArray(v) ? Number(k) : k]);
      else walk(x);
    }
  };
  walk(root);
  return out;
}

interface Req {
  method: 'get' | 'post';
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

function badSegment(r: Rng): unknown {
  const m: Record<string, unknown> = { type: r.pick(['track', 'identify', 'alias', 'page', 'bogus', 7]), event: r.pick([...INJECTIONS, ...UNSTORABLE]), userId: r.pick(['u-1', '', '\u0000', null, 12]) };
  if (r.chance(0.5)) m.timestamp = r.pick(BAD_DATES);
  if (r.chance(0.3)) m.properties = { deep: JSON.parse(`${'{"a":'.repeat(500)}1${'}'.repeat(500)}`) };
  if (r.chance(0.2)) m.context = { blob: 'z'.repeat(40_000) };
  return m;
}

function hostileRequest(r: Rng, probes: ProbeOperation[], keys: { read: string }): Req {
  const auth = r.pick<Record<string, string>>([{ authorization: `Bearer ${keys.read}` }, { authorization: `Bearer ${keys.read}` }, {}, { authorization: 'Bearer siyu_wrong-000000000000000000000000' }, { authorization: 'Basic %%%' }]);
  const json = { 'content-type': 'application/json', ...auth };
  switch (r.int(10)) {
    case 0:
      return { method: 'post', path: '/graphql', headers: json, body: r.pick(['{"query": ', '{{', '[1,2', 'null', '"x"', '\u0000', '{"query":"{ me { role } }"}'.repeat(3), Buffer.from([0xff, 0xfe, 0xc3, 0x28])]) };
    case 1: {
      // A gzip bomb: small on the wire, far over the body limit once inflated.
      return { method: 'post', path: r.pick(['/graphql', '/v1/batch', '/v1/track']), headers: { ...json, 'content-encoding': r.pick(['gzip', 'gzip', 'deflate', 'br', 'x-unknown']) }, body: r.pick(GZIP_BOMBS) };
    }
    case 2:
    case 3: {
      const path = r.pick(['/v1/batch', '/v1/import', '/v1/track', '/v1/identify', '/v1/page', '/v1/alias', '/v1/t', '/v1/nope']);
      const body = path.endsWith('batch') || path.endsWith('import') ? { batch: Array.from({ length: 1 + r.int(5) }, () => badSegment(r)) } : badSegment(r);
      return { method: 'post', path, headers: { 'content-type': r.pick(['application/json', 'text/plain', 'application/xml']), ...auth }, body: r.chance(0.1) ? '{"batch": [' : JSON.stringify(body) };
    }
    case 4:
      return { method: 'get', path: `/graphql?query=${encodeURIComponent(r.pick([fragmentBomb(30), '{ tag(key: "\u0000") { key } }', '{'.repeat(5000), 'mutation { createTag(input: {key: "x", name: "x", kind: MANUAL}) { key } }']))}`, headers: { ...auth, 'apollo-require-preflight': 'true' } };
    default:
      return { method: 'post', path: '/graphql', headers: json, body: JSON.stringify(hostileDocument(r, probes)) };
  }
}

/** Problems with one answer: a 5xx, or an INTERNAL_SERVER_ERROR anywhere in it. */
function problem(status: number, text: string): string | null {
  if (status >= 500) return `status ${status}: ${text.slice(0, 200)}`;
  if (text.includes('INTERNAL_SERVER_ERROR')) return `INTERNAL_SERVER_ERROR: ${text.slice(0, 200)}`;
  return null;
}

describe('a seeded flood of hostile requests', () => {
  it(`${HTTP_REQUESTS} HTTP requests and ${WS_MESSAGES} WebSocket messages: no 5xx or INTERNAL, nothing written, loop and memory bounded`, async () => {
    const { adminKey } = target;
    const t = remoteApp(target);
    const created = await t.gql<{ createApiKey: { key: string } }>('mutation { createApiKey(input: { role: READ, name: "flood" }) { key } }', {}, adminKey);
    const read = created.data!.createApiKey.key;
    const targets: ProbeTargets = { profileId: randomUUID(), mergeId: randomUUID(), segmentId: randomUUID(), apiKeyId: randomUUID(), tagKey: 'vip', memberValue: 'm-1' };
    const probes = await probeOperations(t, adminKey, targets, 1);
    // Optional string arguments too: each probe gets every argument, generated.
    for (const p of probes) {
      for (const arg of p.field.args) {
        if (arg.name in p.vars || isNonNullType(arg.type)) continue;
        p.vars[arg.name] = valueFor(arg.name, arg.type, targets, `${p.field.name}.${arg.name}`);
        p.doc = p.doc.replace(/^(query|mutation)(\((.*?)\))? \{ (\w+)(\((.*?)\))?/, (_m, op, _d, defs, name, _a, args) =>
          `${op}(${[defs, `$${arg.name}: ${String(arg.type)}`].filter(Boolean).join(', ')}) { ${name}(${[args, `${arg.name}: $${arg.name}`].filter(Boolean).join(', ')})`);
      }
    }
    const before = await target.rows();
    const url = target.url;
    const r = rng(SEED);
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    // The server's figures, read from its /metrics while the flood runs (a scrape resets the loop maximum).
    const baseline = await serverFigures(url);
    const floodFrom = Date.now();
    let loopMaxMs = 0;
    let rssMaxMiB = baseline.rssMiB;
    let flooding = true;
    const watcher = (async () => {
      while (flooding) {
        const f = await serverFigures(url);
        loopMaxMs = Math.max(loopMaxMs, f.loopMaxMs);
        rssMaxMiB = Math.max(rssMaxMiB, f.rssMiB);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    })();

    let sent = 0;
    const httpWorker = async () => {
      while (sent < HTTP_REQUESTS) {
        sent++;
        const req = hostileRequest(r, probes, { read });
        let call = req.method === 'get' ? request(url).get(req.path) : request(url).post(req.path);
        for (const [k, v] of Object.entries(req.headers)) call = call.set(k, v);
        const res = await (req.body === undefined ? call : call.send(req.body)).buffer(true).parse((response, cb) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (c: string) => (text += c));
          response.on('end', () => cb(null, text));
        });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        const p = problem(res.status, String(res.body));
        if (p) failures.push(`${req.method.toUpperCase()} ${req.path} ${String(req.body ?? '').slice(0, 120)} → ${p}`);
      }
    };

    let wsSent = 0;
    const wsWorker = async () => {
      while (wsSent < WS_MESSAGES) {
        const socket = new WebSocket(url.replace(/^http/, 'ws') + '/graphql', 'graphql-transport-ws');
        const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
        await new Promise<void>((resolve, reject) => {
          socket.once('open', () => resolve());
          socket.once('error', reject);
        });
        socket.send(JSON.stringify({ type: 'connection_init', payload: r.chance(0.9) ? { authorization: `Bearer ${read}` } : { authorization: '\u0000' } }));
        socket.on('message', (data) => {
          const text = String(data);
          const p = problem(200, text);
          if (p) failures.push(`ws message → ${p}`);
        });
        for (let i = 0; i < 20 && wsSent < WS_MESSAGES; i++, wsSent++) {
          const doc = hostileDocument(r, probes);
          const kind = r.int(10);
          if (kind === 0) socket.send(r.pick(['{', 'null', '[]', '{"type":"subscribe"}', '{"type":"subscribe","id":1,"payload":{}}', Buffer.from([0xff, 0x00])]));
          else socket.send(JSON.stringify({ id: `s${i}`, type: 'subscribe', payload: kind === 1 ? { query: 'subscription S($m: [KpiMetric!]!) { kpiUpdated(metrics: $m, filter: { channels: ["\u0000"] }) { version } }', variables: { m: ['DAU'] } } : doc }));
        }
        socket.send(JSON.stringify({ type: 'ping' }));
        socket.close(1000);
        const code = await closed;
        if (code === 4500 || code === 1011) failures.push(`ws closed with ${code}`);
      }
    };

    await Promise.all([...Array.from({ length: CONCURRENCY }, httpWorker), wsWorker(), wsWorker()]);
    const floodTo = Date.now();
    flooding = false;
    await watcher;
    const last = await serverFigures(url);
    loopMaxMs = Math.max(loopMaxMs, last.loopMaxMs);

    // The server is still up and answers.
    expect((await request(url).get('/healthz')).status).toBe(200);
    expect(failures.slice(0, 20)).toEqual([]);
    const longest = tasksBetween(floodFrom, floodTo)[0] ?? { ms: 0, type: 'none over 20 ms' };
    process.stdout.write(
      `\n  hostile flood (${usingPostgres() ? 'PostgreSQL' : 'embedded'}): server event loop held at most ${loopMaxMs.toFixed(0)} ms; longest task ${longest.ms.toFixed(0)} ms (${longest.type}); RSS ${baseline.rssMiB.toFixed(0)} → max ${rssMaxMiB.toFixed(0)} MiB\n`,
    );
    expect({ loopMaxMs: Math.round(loopMaxMs), under: loopMaxMs <= MAX_LOOP_HOLD_MS }).toEqual({ loopMaxMs: Math.round(loopMaxMs), under: true });
    expect({ longestTaskMs: Math.round(longest.ms), under: longest.ms <= MAX_TASK_MS }).toEqual({ longestTaskMs: Math.round(longest.ms), under: true });
    expect(rssMaxMiB - baseline.rssMiB).toBeLessThan(MAX_RSS_GROWTH_MiB);
    expect(await target.rows()).toEqual(before);
    // The flood reached the checks it aims at (not only the parsers).
    expect([...statuses.keys()].filter((s) => s >= 400).length).toBeGreaterThanOrEqual(3);
  }, 240_000);
});
