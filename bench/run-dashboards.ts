/**
 * `node dist/bench/run-dashboards.js --workspace <id> [--dashboards 5] [--seconds 30] [--profiles 50000] [--batch 100] [--rate r] [--out file]`
 * (after `tsc -p bench/tsconfig.json`), with `DATABASE_URL` and `SIYU_PII_KEY` of a workspace that
 * `siyu seed` filled (e.g. `siyu seed --profiles 50000 --days 30`): the live case of issue #15 on
 * the history a brand has, not on an empty workspace. Without `DATABASE_URL` it runs on the embedded
 * database in `SIYU_DATA_DIR`, as `npm start` does (stop the server first: one process holds it);
 * `--rate 50` then offers traffic as `siyu simulate --rate 50` does instead of closed-loop.
 *
 * Boots Siyu on that database (HTTP + WebSocket on loopback), then:
 * 1. **Ingest alone**: `siyu simulate`'s traffic (sessions of the seeded people and some new ones)
 *    posted closed-loop to `ingestEvents` over HTTP with an INGEST key, `--batch` events per request,
 *    for `--seconds`: events/s.
 * 2. **First values**: N dashboards open, each one graphql-ws socket with a READ key carrying the
 *    live panels web/dashboard subscribes (read from its source, bench/lib/dashboard-panels.ts):
 *    time from subscribe to every panel's first value.
 * 3. **Ingest alongside**: the same traffic for `--seconds` with the N dashboards open: events/s,
 *    and **freshness** of every order: from the ack of the request that carried it to the first
 *    push of the `tiles` panel (at each dashboard) whose today's GMV includes it (GMV today ≥ the
 *    first value's GMV + the revenue of every order acked so far), p50/p99/max; and orders a
 *    dashboard never saw.
 *
 * Writes bench/results/<date>-dashboards-<n>.json and prints a summary. The workspace keeps the
 * events it was sent (like any live traffic); run it on a scratch copy of the seed.
 */
import 'reflect-metadata';
import fs from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import { createClient, type Client } from 'graphql-ws';
import { createApp, type SiyuApp } from '../src/app';
import { loadConfig } from '../src/platform/config';
import { DemoGenerator, type DemoEvent } from '../src/demo/generator';
import { simulatedTraffic } from '../src/cli/operator';
import { connectRemote } from '../src/cli/import';
import { cliActor } from '../src/modules/compliance';
import { Role } from '../src/platform/auth';
import { readDashboardLive } from './lib/dashboard-panels';
import { fmt, median } from './lib/stats';

const log = (m: string) => process.stderr.write(`${m}\n`);
const now = () => performance.timeOrigin + performance.now();
const pct = (xs: number[], p: number) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};

interface Push {
  at: number;
  version: number;
  gmvToday: number | null;
}

interface Dashboard {
  client: Client;
  /** Subscribe → every panel's first value, ms. */
  firstValuesMs: number;
  tiles: Push[];
  errors: string[];
}

type Results = { metric: string; total: { points: { localStart: string; value: number | null }[] } }[];

async function openDashboard(wsUrl: string, key: string): Promise<Dashboard> {
  const live = readDashboardLive();
  const client = createClient({ url: wsUrl, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${key}` }, lazy: false, retryAttempts: 0 });
  const d: Dashboard = { client, firstValuesMs: NaN, tiles: [], errors: [] };
  const t0 = now();
  await new Promise<void>((resolve, reject) => {
    let waiting = live.panels.length;
    const timer = setTimeout(() => reject(new Error(`a dashboard's panels did not all answer in 60 s (${waiting} missing)`)), 60_000);
    for (const p of live.panels) {
      let first = true;
      client.subscribe<{ kpiUpdated: { version: number; results: Results } }>(
        { query: live.query, variables: p.variables },
        {
          next: (msg) => {
            const at = now();
            if (msg.errors?.length) d.errors.push(`${p.panel}: ${msg.errors[0].message}`);
            const k = msg.data?.kpiUpdated;
            if (k && p.panel === 'tiles') {
              const gmv = k.results.find((r) => r.metric === 'GMV');
              d.tiles.push({ at, version: k.version, gmvToday: gmv?.total.points.at(-1)?.value ?? null });
            }
            if (first) {
              first = false;
              if (--waiting === 0) {
                clearTimeout(timer);
                d.firstValuesMs = at - t0;
                resolve();
              }
            }
          },
          error: (e) => {
            d.errors.push(`${p.panel}: ${e instanceof Error ? e.message : JSON.stringify(e)}`);
            reject(new Error(d.errors.at(-1)));
          },
          complete: () => {},
        },
      );
    }
  });
  return d;
}

const revenueOf = (e: DemoEvent) => (e.name === 'Order Completed' ? Number((e.properties as { revenue?: number } | undefined)?.revenue ?? 0) : 0);

/**
 * Ingest of simulated traffic for `seconds`: closed-loop (`rate` undefined: the next request of
 * `batch` events as soon as the last one is acknowledged), or paced as `siyu simulate --rate` paces
 * it (a token bucket of at most one second's events, topped up every 250 ms; a request carries what
 * is due, at most `batch`). Calls `onAck` after each request with its accepted orders' revenue.
 */
async function ingestFor(
  url: string,
  key: string,
  gen: DemoGenerator,
  runId: string,
  seconds: number,
  batch: number,
  rate: number | undefined,
  onAck?: (at: number, revenue: number) => void,
): Promise<{ events: number; secs: number; rejected: number }> {
  const sink = await connectRemote({ url, key });
  const next = simulatedTraffic(gen, runId, 0.1);
  let queue: DemoEvent[] = [];
  let events = 0;
  let rejected = 0;
  const t0 = now();
  let budget = 0;
  let last = t0;
  while (now() - t0 < seconds * 1000) {
    let due = batch;
    if (rate !== undefined) {
      const tick = now();
      budget = Math.min(budget + ((tick - last) / 1000) * rate, Math.max(rate, 1));
      last = tick;
      due = Math.min(Math.floor(budget), batch);
      if (due <= 0) {
        await new Promise((r) => setTimeout(r, 250));
        continue;
      }
      budget -= due;
    }
    while (queue.length < due) queue.push(...next(Date.now()));
    const send = queue.slice(0, due);
    queue = queue.slice(due);
    const results = await sink.send(send);
    const at = now();
    let revenue = 0;
    results.forEach((r, i) => {
      if (r.status === 'ACCEPTED') revenue += revenueOf(send[i]);
      else if (r.status !== 'DUPLICATE') rejected++;
    });
    events += send.length;
    onAck?.(at, Math.round(revenue * 100) / 100);
    if (rate !== undefined) {
      const wait = 250 - (now() - at);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  }
  return { events, secs: (now() - t0) / 1000, rejected };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (flag: string) => {
    const i = args.indexOf(flag);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const ws = opt('--workspace');
  if (!ws) throw new Error('--workspace <id> is required (the seeded workspace)');
  const dashboards = Number(opt('--dashboards') ?? 5);
  const seconds = Number(opt('--seconds') ?? 30);
  const profiles = Number(opt('--profiles') ?? 50_000);
  const batch = Number(opt('--batch') ?? 100);
  const rateArg = opt('--rate');
  const rate = rateArg === undefined ? undefined : Number(rateArg);
  if (rate !== undefined && !(rate > 0)) throw new Error('--rate needs a positive number of events per second');
  const outArg = opt('--out');
  let app: SiyuApp | undefined;
  const open: Dashboard[] = [];
  try {
    app = await createApp(loadConfig({ ...process.env, LOG_LEVEL: 'warn', SIYU_SWEEP_INTERVAL_MS: '0', SIYU_AUTO_MIGRATE: 'false' }));
    const url = await app.listen(0, '127.0.0.1');
    const wsUrl = url.replace(/^http/, 'ws').replace(/\/?$/, '/graphql').replace(/\/graphql\/graphql$/, '/graphql');
    const intervalMs = await app.services.workspaces.liveInterval(ws);
    const read = (await app.services.workspaces.createApiKey(cliActor(ws), { role: Role.READ, name: 'bench dashboards' })).key;
    const ingestKey = (await app.services.workspaces.createApiKey(cliActor(ws), { role: Role.INGEST, name: 'bench dashboards ingest' })).key;
    const gen = new DemoGenerator({ profiles, days: 30, seed: 1 });
    const runId = `bench${Date.now().toString(36)}`;
    const database = app.config.database.kind === 'postgres' ? 'PostgreSQL' : 'embedded PGlite';
    log(`dashboards bench on workspace ${ws} (${database}): ${dashboards} dashboards, ${seconds} s per phase, ${rate === undefined ? 'closed-loop' : `${rate} events/s offered`}, live interval ${intervalMs} ms`);

    // Warm-up (connections, plans), then ingest alone.
    await ingestFor(url, ingestKey, gen, `${runId}w`, 3, batch, rate);
    const alone = await ingestFor(url, ingestKey, gen, `${runId}a`, seconds, batch, rate);
    log(`  ingest alone: ${fmt(alone.events / alone.secs, 0)} events/s`);

    for (let i = 0; i < dashboards; i++) open.push(await openDashboard(wsUrl, read));
    log(`  first values: ${open.map((d) => fmt(d.firstValuesMs, 0)).join(', ')} ms`);
    // The GMV today the dashboards started from (each's first tiles value; equal unless a push raced).
    const base = open.map((d) => d.tiles[0]?.gmvToday ?? 0);
    const acks: { at: number; cum: number }[] = [];
    let cum = 0;
    const along = await ingestFor(url, ingestKey, gen, `${runId}b`, seconds, batch, rate, (at, revenue) => {
      if (revenue <= 0) return;
      cum = Math.round((cum + revenue) * 100) / 100;
      acks.push({ at, cum });
    });
    // Let the last pushes arrive.
    await new Promise((r) => setTimeout(r, intervalMs + 3000));
    log(`  ingest alongside: ${fmt(along.events / along.secs, 0)} events/s`);
    const fresh: number[] = [];
    let unseen = 0;
    open.forEach((d, di) => {
      for (const a of acks) {
        const p = d.tiles.find((x) => x.at >= a.at && x.gmvToday !== null && x.gmvToday + 0.005 >= base[di] + a.cum);
        if (p) fresh.push(p.at - a.at);
        else unseen++;
      }
    });
    const result = {
      date: new Date().toISOString(),
      workspace: ws,
      events: Number((await app.db.dataSource.manager.query(`SELECT count(*)::int AS n FROM events WHERE workspace_id = $1`, [ws]))[0].n),
      dashboards,
      panels: readDashboardLive().panels.map((p) => p.panel),
      seconds,
      batch,
      database,
      offeredRate: rate ?? null,
      liveIntervalMs: intervalMs,
      ingestAlone: Math.round(alone.events / alone.secs),
      ingestAlongside: Math.round(along.events / along.secs),
      ratio: Math.round((along.events / along.secs / (alone.events / alone.secs)) * 1000) / 1000,
      firstValuesMs: { median: Math.round(median(open.map((d) => d.firstValuesMs))), max: Math.round(Math.max(...open.map((d) => d.firstValuesMs))) },
      freshnessMs: { orders: acks.length, samples: fresh.length, p50: Math.round(pct(fresh, 50)), p99: Math.round(pct(fresh, 99)), max: Math.round(Math.max(...fresh)), unseen },
      pushesPerDashboard: open.map((d) => d.tiles.length),
      rejected: alone.rejected + along.rejected,
      errors: open.flatMap((d) => d.errors).slice(0, 10),
    };
    const out = outArg ? path.resolve(outArg) : path.join(__dirname, '..', '..', 'bench', 'results', `${result.date.slice(0, 10)}-dashboards-${dashboards}.json`);
    fs.writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
    log(JSON.stringify(result, null, 2));
    log(`wrote ${out}`);
  } finally {
    for (const d of open) await d.client.dispose();
    await app?.stop();
  }
}

main().catch((err) => {
  log(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
