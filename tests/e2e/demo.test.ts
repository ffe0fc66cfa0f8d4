import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { buildDist, errorLines, runCli, startServer, type ServerProcess } from '../support/process';

/**
 * Demo data as operators meet it, in separate processes on fresh embedded databases: `siyu seed`,
 * `siyu recompute`, `siyu simulate --url` into a running server, and `npm start`'s demo seeding.
 */
let tmp: string;
beforeAll(() => {
  buildDist();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'siyu-e2e-demo-'));
}, 120_000);
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const siyu = (args: string[], dataDir: string) => runCli(args, tmp, { SIYU_DATA_DIR: dataDir });

async function countRows(dataDir: string, sql: string): Promise<number> {
  const db = new PGlite(dataDir);
  try {
    const r = await db.query<{ n: number }>(sql);
    return Number(r.rows[0].n);
  } finally {
    await db.close();
  }
}

async function gql(url: string, key: string, query: string): Promise<{ data?: Record<string, unknown>; errors?: unknown[] }> {
  const res = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify({ query }) });
  return (await res.json()) as { data?: Record<string, unknown>; errors?: unknown[] };
}

const PROFILES = '{ profiles(first: 5) { edges { node { id } } } }';
const profileCount = async (url: string, key: string) => ((await gql(url, key, PROFILES)).data?.profiles as { edges: unknown[] }).edges.length;

async function stop(server: ServerProcess): Promise<void> {
  server.child.kill('SIGTERM');
  const { code } = await server.exited;
  expect(code).toBe(0);
  expect(server.output()).toContain('"msg":"stopped"');
}

describe('siyu seed, recompute and simulate (processes)', () => {
  const dataDir = () => path.join(tmp, 'seeded');

  it('documents every command and answers bad usage with one line and exit code 2', async () => {
    for (const [command, flag] of [
      ['seed', '--profiles <n>'],
      ['simulate', '--rate <n>'],
      ['recompute', '--only <parts>'],
    ]) {
      const r = await siyu([command, '--help'], dataDir());
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: siyu ${command} \\[options\\]`));
      expect(r.stdout).toContain(flag);
      expect(r.stdout).toMatch(/Exit codes:\n\s+0 .+\n\s+1 .+\n\s+2 .+/);
    }
    for (const [args, message] of [
      [['seed', '--profiles', '0'], /^siyu seed: --profiles 0: must be a whole number from 1 to/],
      [['seed', '--days', 'ten'], /^siyu seed: --days ten: must be a whole number/],
      [['recompute', '--only', 'kpis,nope'], /^siyu recompute: --only kpis,nope: unknown read model "nope"; choose from experiments, kpis, stages, membership, org, health, tags, attribution$/],
      [['simulate', '--rate', '-5'], /^siyu simulate: --rate -5: must be a number above 0/],
      [['simulate', '--url', 'http://127.0.0.1:1'], /^siyu simulate: --url and --key go together/],
    ] as const) {
      const r = await siyu([...args], dataDir());
      expect(r.code).toBe(2);
      expect(errorLines(r)).toEqual([expect.stringMatching(message)]);
    }
  });

  it('seeds 200 people over 20 days with merges, orders and invites, then recomputes the read models', async () => {
    const r = await siyu(['seed', '--profiles', '200', '--days', '20'], dataDir());
    // The header and, on a slow machine, a progress line every 10 s: anything else on stderr is an error.
    expect(errorLines(r).filter((l) => !l.startsWith('siyu seed: 200 people') && !/^seeding: \d+% — /.test(l))).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Created workspace "demo"/);
    expect(r.stdout).toMatch(/Seeded workspace "demo"/);
    expect(r.stdout).toMatch(/Set up the demo org tree in workspace "demo": 10 nodes, 21 touchpoints and 12 staff on them/);
    expect(r.stdout).toMatch(/\d+ accepted, 0 duplicate, 0 rejected/);
    const merges = await countRows(dataDir(), 'SELECT count(*) AS n FROM identity_merges');
    const orders = await countRows(dataDir(), `SELECT count(*) AS n FROM events WHERE name = 'Order Completed'`);
    const invites = await countRows(dataDir(), `SELECT count(*) AS n FROM relations WHERE kind = 'invited'`);
    expect(merges).toBeGreaterThan(5);
    expect(orders).toBeGreaterThan(10);
    expect(invites).toBeGreaterThan(3);
    expect(r.stdout).toContain(`${merges} identity merges`);

    const again = await siyu(['recompute', '--only', 'kpis,tags', '--chunk', '50'], dataDir());
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/Recomputed workspace "demo"/);
    expect(again.stdout).toMatch(/kpis\s+(\d+)\/\1 profiles/);
    expect(again.stdout).toMatch(/tags\s+(\d+)\/\1 profiles/);
    expect(again.stdout).not.toMatch(/stages|health/);
  }, 60_000);

  it('simulate --url keeps events flowing into a running server', async () => {
    const seeded = await countRows(dataDir(), 'SELECT count(*) AS n FROM events');
    expect(seeded).toBeGreaterThan(0);
    // The admin key `siyu seed` printed when it created the workspace is in the previous test's
    // output; make a fresh INGEST key instead (the server is not running yet).
    const created = await siyu(['key', 'create', '--workspace', await onlyWorkspace(dataDir()), '--role', 'ingest'], dataDir());
    expect(created.code).toBe(0);
    const key = created.stdout.match(/siyu_[A-Za-z0-9_-]{32}/)![0];
    const server = startServer({ SIYU_DATA_DIR: dataDir(), PORT: '0', LOG_LEVEL: 'info' });
    try {
      const [, url] = await server.waitFor(/GraphQL:\s+(http:\/\/\S+)\/graphql/, 60_000);
      const sim = await siyu(['simulate', '--rate', '25', '--duration', '2', '--profiles', '200', '--url', url, '--key', key], dataDir());
      expect(errorLines(sim).filter((l) => !l.startsWith('siyu simulate: 25 events/s'))).toEqual([]);
      expect(sim.code).toBe(0);
      const accepted = Number(sim.stdout.match(/accepted:\s+([\d,]+)/)![1].replace(/,/g, ''));
      expect(accepted).toBeGreaterThan(0);
      expect(sim.stdout).toMatch(/rejected:\s+0\b/);
      await stop(server);
      expect(await countRows(dataDir(), 'SELECT count(*) AS n FROM events')).toBe(seeded + accepted);
    } finally {
      server.child.kill('SIGKILL');
    }
  }, 60_000);
});

async function onlyWorkspace(dataDir: string): Promise<string> {
  const db = new PGlite(dataDir);
  try {
    return (await db.query<{ id: string }>('SELECT id FROM workspaces')).rows[0].id;
  } finally {
    await db.close();
  }
}

describe('npm start demo data', () => {
  it('seeds a fresh embedded database in the background and prints the dashboard URL and a key', async () => {
    const server = startServer({ SIYU_DATA_DIR: path.join(tmp, 'demo'), PORT: '0', LOG_LEVEL: 'info', SIYU_DEMO: '' });
    try {
      const [, url] = await server.waitFor(/Dashboard:\s+(http:\/\/\S+)\/dashboard/, 60_000);
      const [key] = await server.waitFor(/siyu_[A-Za-z0-9_-]{32}/);
      expect(server.output()).toMatch(/Demo data: seeding 2,000 people over 30 days/);
      // The server answers while it seeds; people appear as batches commit.
      const deadline = Date.now() + 40_000;
      let seen = 0;
      while (Date.now() < deadline && (seen = await profileCount(url, key)) === 0) await new Promise((r) => setTimeout(r, 500));
      expect(seen).toBeGreaterThan(0);
      expect(server.output()).toContain('"msg":"demo: seeding demo data in the background"');
      await stop(server);
    } finally {
      server.child.kill('SIGKILL');
    }
  }, 60_000);

  it('leaves the database empty with SIYU_DEMO=0', async () => {
    const server = startServer({ SIYU_DATA_DIR: path.join(tmp, 'empty'), PORT: '0', LOG_LEVEL: 'info', SIYU_DEMO: '0' });
    try {
      const [, url] = await server.waitFor(/Dashboard:\s+(http:\/\/\S+)\/dashboard/, 60_000);
      const [key] = await server.waitFor(/siyu_[A-Za-z0-9_-]{32}/);
      expect(server.output()).not.toMatch(/Demo data|demo: seeding/);
      expect(await profileCount(url, key)).toBe(0);
      await stop(server);
    } finally {
      server.child.kill('SIGKILL');
    }
  }, 60_000);
});
