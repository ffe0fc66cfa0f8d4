import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import type { SiyuApp } from '../../src/app';
import { DemoGenerator, type DemoEvent } from '../../src/demo/generator';
import { Rng } from '../../src/shared/random';
import type { RawEvent } from '../../src/modules/events/event-validation';
import { Role } from '../../src/platform/auth';
import { systemActor } from '../../src/modules/compliance';
import type { ClientResult, ConnectJob, Connected, SiyuRecords } from '../kpi-clients';
import { compare, type Comparison } from '../lib/report';
import { fmt, median } from '../lib/stats';

/**
 * Case 3: live KPI fan-out. N graphql-ws subscribers (one `kpiUpdated` subscription per socket,
 * spread over several client processes) while events are ingested in-process, against a bare `ws`
 * server (in the same process as Siyu) broadcasting frames of the same size to the same clients at
 * the same interval.
 *
 * Latency (Siyu): from the moment `ingest()` returned for a batch (the ack: committed) to the
 * moment a client received the first version whose ORDERS value includes that batch's orders
 * (today's ORDERS only grows, so "includes" is `value ≥ cumulative orders acked`), for every batch
 * that contained an order, at every subscriber. Reference: from the bare server's send call to
 * receipt. Lost: a subscriber that never received a value covering the last ingest (the final
 * version); out of order: a version not strictly greater than the previous one at that subscriber.
 * Gaps between versions are allowed by design (coalescing, one-slot mailboxes).
 */
export const KPI_SUBSCRIPTION =
  'subscription{kpiUpdated(metrics:[ORDERS,GMV,ACTIVE_USERS],grain:DAY,periods:2){version computedAt results{metric label total{points{localStart value}}}}}';

export interface KpiFanoutParams {
  subscribers: number;
  processes: number;
  seconds: number;
  reps: number;
  intervalMs: number;
  /** Seconds of closed-loop ingest (with the subscribers attached) to find the sustainable rate. */
  calibrateSec: number;
  /** Upper bound of the ingest rate (the issue asks for 5,000 events/s). */
  maxRate: number;
  batchSize: number;
}

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An IANA zone in which it is about noon now, so "today" does not roll over during the run. */
function noonZone(): string {
  const h = Math.round(12 - new Date().getUTCHours() - new Date().getUTCMinutes() / 60);
  const off = Math.max(-12, Math.min(14, h));
  // Etc/GMT signs are inverted: Etc/GMT-8 is UTC+8.
  return off === 0 ? 'Etc/GMT' : off > 0 ? `Etc/GMT-${off}` : `Etc/GMT+${-off}`;
}

class Clients {
  private readonly kids: ChildProcess[];
  constructor(n: number, pin: string | null) {
    const script = path.join(__dirname, '..', 'kpi-clients.js');
    // Pinned: `taskset -c <cpu> node kpi-clients.js` (fork keeps the IPC channel through taskset's exec).
    this.kids = Array.from({ length: n }, () =>
      fork(script, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], ...(pin ? { execPath: 'taskset', execArgv: ['-c', pin, process.execPath] } : {}) }),
    );
  }
  private ask<R>(kid: ChildProcess, msg: unknown): Promise<R> {
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`kpi client exited (${code})`));
      kid.once('exit', onExit);
      kid.once('message', (m: R & { op: string; error?: string }) => {
        kid.off('exit', onExit);
        if (m.op === 'failed') reject(new Error(`kpi client failed: ${m.error}`));
        else resolve(m);
      });
      kid.send(msg as never);
    });
  }
  connect(job: Omit<ConnectJob, 'keys' | 'op'>, keys: string[]): Promise<Connected[]> {
    const per = Math.ceil(keys.length / this.kids.length);
    return Promise.all(this.kids.map((k, i) => this.ask<Connected>(k, { op: 'connect', ...job, keys: keys.slice(i * per, (i + 1) * per) })));
  }
  stop(): Promise<ClientResult[]> {
    return Promise.all(this.kids.map((k) => this.ask<ClientResult>(k, { op: 'stop' })));
  }
  close(): void {
    for (const k of this.kids) k.kill();
  }
}

function pct(sorted: Float64Array, p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

interface Ack {
  at: number;
  /** Orders acked so far (cumulative), after this batch. */
  orders: number;
}

interface SiyuRep {
  subscribers: number;
  live: number;
  rssBeforeMiB: number;
  rssAfterMiB: number;
  rssPerSubscriberKiB: number;
  ingestRate: number;
  ingestedEvents: number;
  batches: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; samples: number };
  versionsPerSubscriber: number;
  fanoutSpreadMs: number;
  outOfOrder: number;
  lost: number;
  finalOrders: number;
  frameBytes: number;
  errors: string[];
}

interface BareRep {
  sockets: number;
  rssPerSocketKiB: number;
  frames: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; samples: number };
  missing: number;
}

/** Latencies ingest-ack → receipt, and lost / out-of-order counts, from the client records. */
function analyse(records: SiyuRecords[], acks: Ack[], finalOrders: number) {
  const withOrders = acks.filter((a, i) => a.orders > (i ? acks[i - 1].orders : 0));
  let n = 0;
  for (const r of records) n += r.versions.length * withOrders.length; // sockets × acks: at most one sample each
  const lat = new Float64Array(n);
  let k = 0;
  let outOfOrder = 0;
  let lost = 0;
  let versions = 0;
  let subs = 0;
  // Fan-out spread per version: first to last receipt of the same version over all subscribers.
  const spread = new Map<number, [number, number]>();
  for (const r of records) {
    for (let s = 0; s < r.versions.length; s++) {
      const v = r.versions[s];
      const x = r.values[s];
      const t = r.times[s];
      subs++;
      versions += v.length;
      for (let j = 1; j < v.length; j++) if (v[j] <= v[j - 1]) outOfOrder++;
      for (let j = 0; j < v.length; j++) {
        const sp = spread.get(v[j]);
        if (!sp) spread.set(v[j], [t[j], t[j]]);
        else {
          if (t[j] < sp[0]) sp[0] = t[j];
          if (t[j] > sp[1]) sp[1] = t[j];
        }
      }
      if (!x.length || (x[x.length - 1] ?? 0) !== finalOrders) lost++;
      let j = 0;
      for (const a of withOrders) {
        // Only acks after the subscriber's first value (its subscription was live).
        if (!t.length || a.at < t[0]) continue;
        while (j < x.length && (x[j] ?? 0) < a.orders) j++;
        if (j === x.length) break;
        lat[k++] = Math.max(0, t[j] - a.at);
      }
    }
  }
  const sorted = lat.subarray(0, k).sort();
  return {
    latencyMs: { p50: pct(sorted, 50), p90: pct(sorted, 90), p99: pct(sorted, 99), max: k ? sorted[k - 1] : NaN, samples: k },
    outOfOrder,
    lost,
    versionsPerSubscriber: subs ? versions / subs : 0,
    // Versions after the first (the first is each subscriber's initial value, sent as it subscribes).
    fanoutSpreadMs: median([...spread].filter(([v]) => v > 1).map(([, [a, b]]) => b - a)),
  };
}

function events(gen: DemoGenerator, rng: Rng, runId: string, profiles: number, n: number): RawEvent[] {
  const out: DemoEvent[] = [];
  while (out.length < n) out.push(...gen.liveSession(rng.int(profiles), Date.now(), runId, rng));
  return out.slice(0, n) as unknown as RawEvent[];
}

const ordersIn = (b: RawEvent[]) => b.reduce((n, e) => n + ((e as unknown as DemoEvent).name === 'Order Completed' ? 1 : 0), 0);

export interface KpiFanoutResult {
  comparisons: Comparison[];
  section: { title: string; lines: string[] };
  details: Record<string, unknown>;
}

export async function runKpiFanout(opts: { app: SiyuApp; url: string; seed: number; params: KpiFanoutParams; log: (m: string) => void }): Promise<KpiFanoutResult> {
  const { app, params: p, log } = opts;
  const wsUrl = opts.url.replace(/^http/, 'ws') + '/graphql';
  // CPU pinning (2 cores): this process (Siyu and the bare server) on CPU 0, the client processes on
  // CPU 1; PostgreSQL is not pinned. Restored at the end.
  let pinned = false;
  try {
    execFileSync('taskset', ['-apc', '0', String(process.pid)], { stdio: 'ignore' });
    pinned = true;
  } catch {
    log('    taskset unavailable: not pinned');
  }
  const clients = new Clients(p.processes, pinned ? '1' : null);
  const gen = new DemoGenerator({ profiles: 20_000, days: 30, seed: opts.seed });
  const rng = new Rng(opts.seed);
  const siyuReps: SiyuRep[] = [];
  const bareReps: BareRep[] = [];
  let rate = 0;
  let calibrated = 0;
  const zone = noonZone();
  try {
    for (let rep = 0; rep < p.reps; rep++) {
      // ---- Siyu -----------------------------------------------------------------------------
      const { workspace, key: adminKey } = await app.services.workspaces.createWorkspace(`bench kpi ${rep}`, undefined);
      const res = await fetch(`${opts.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` },
        body: JSON.stringify({ query: 'mutation($i:UpdateWorkspaceInput!){updateWorkspace(input:$i){liveUpdateIntervalMs timeZone}}', variables: { i: { liveUpdateIntervalMs: p.intervalMs, timeZone: zone } } }),
      });
      const upd = (await res.json()) as { errors?: unknown };
      if (upd.errors) throw new Error(`updateWorkspace failed: ${JSON.stringify(upd.errors)}`);
      // At most 100 sockets per key (SIYU_WS_MAX_CONNECTIONS_PER_KEY default): one READ key per 100 subscribers.
      const keys: string[] = [];
      for (let i = 0; i < Math.ceil(p.subscribers / 100); i++) keys.push((await app.services.workspaces.createApiKey(systemActor(workspace.id), { role: Role.READ, name: `bench kpi ${i}` })).key);
      const socketKeys = Array.from({ length: p.subscribers }, (_, i) => keys[Math.floor(i / 100)]);
      await sleep(300);
      const rssBefore = process.memoryUsage().rss;
      const connected = await clients.connect({ mode: 'siyu', url: wsUrl, query: KPI_SUBSCRIPTION, concurrency: 50 }, socketKeys);
      await sleep(500);
      const rssAfter = process.memoryUsage().rss;
      const live = connected.reduce((n, c) => n + c.live, 0);
      log(`    repetition ${rep + 1}/${p.reps}: ${live}/${p.subscribers} subscribers live, server RSS +${fmt((rssAfter - rssBefore) / 1024 / p.subscribers, 1)} KiB each`);
      const runId = `k${rep}-${Date.now().toString(36)}`;
      const acks: Ack[] = [];
      let orders = 0;
      let ingested = 0;
      const ingest = async (batch: RawEvent[]) => {
        const r = await app.services.ingest.ingest(workspace.id, batch);
        const at = now();
        if (r.accepted !== batch.length) throw new Error(`ingest accepted ${r.accepted} of ${batch.length}`);
        orders += ordersIn(batch);
        ingested += batch.length;
        acks.push({ at, orders });
      };
      if (rep === 0) {
        // Sustainable rate alongside the subscribers: closed-loop ingest for a few seconds.
        const t0 = performance.now();
        let n = 0;
        while (performance.now() - t0 < p.calibrateSec * 1000) {
          await ingest(events(gen, rng, runId, 20_000, p.batchSize));
          n += p.batchSize;
        }
        calibrated = n / ((performance.now() - t0) / 1000);
        rate = Math.min(p.maxRate, Math.floor(calibrated * 0.8));
        log(`    sustainable ingest with ${live} subscribers: ${fmt(calibrated, 0)} events/s closed loop; running at ${fmt(rate, 0)} events/s (80%, at most ${p.maxRate})`);
        await sleep(p.intervalMs + 500);
      }
      // Paced ingest: one batch every batchSize/rate seconds (no catch-up bursts beyond the schedule).
      const startIngested = ingested;
      const t0 = performance.now();
      const period = (1000 * p.batchSize) / rate;
      let due = t0;
      while (performance.now() - t0 < p.seconds * 1000) {
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        await ingest(events(gen, rng, runId, 20_000, p.batchSize));
        due += period;
      }
      const achieved = (ingested - startIngested) / ((performance.now() - t0) / 1000);
      // The final version: one interval plus compute and fan-out after the last ack.
      await sleep(p.intervalMs + 1500);
      const results = await clients.stop();
      const records = results.map((r) => r.siyu!).filter(Boolean);
      const a = analyse(records, acks, orders);
      const frameBytes = median(records.flatMap((r) => r.frameBytes));
      const errors = results.flatMap((r) => r.errors).concat(connected.flatMap((c) => c.errors)).slice(0, 5);
      siyuReps.push({
        subscribers: p.subscribers,
        live,
        rssBeforeMiB: rssBefore / 2 ** 20,
        rssAfterMiB: rssAfter / 2 ** 20,
        rssPerSubscriberKiB: (rssAfter - rssBefore) / 1024 / p.subscribers,
        ingestRate: achieved,
        ingestedEvents: ingested,
        batches: acks.length,
        ...a,
        finalOrders: orders,
        frameBytes,
        errors,
      });
      log(`      Siyu: ingest ${fmt(achieved, 0)} events/s, p99 ack→receipt ${fmt(a.latencyMs.p99, 1)} ms (${fmt(a.latencyMs.samples, 0)} samples), ${fmt(a.versionsPerSubscriber, 1)} versions/subscriber, first→last receipt of a version ${fmt(a.fanoutSpreadMs, 0)} ms, lost ${a.lost}, out of order ${a.outOfOrder}`);
      if (errors.length) log(`      client errors: ${errors.join(' | ').slice(0, 500)}`);
      await sleep(500);

      // ---- Bare ws broadcast, same clients, same frame size, same interval -------------------
      const server = http.createServer();
      const wss = new WebSocketServer({ server });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const bareUrl = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const sockets = new Set<WebSocket>();
      wss.on('connection', (ws) => {
        sockets.add(ws);
        ws.on('close', () => sockets.delete(ws));
      });
      await sleep(300);
      const bareRssBefore = process.memoryUsage().rss;
      await clients.connect({ mode: 'bare', url: bareUrl, query: '', concurrency: 50 }, socketKeys);
      await sleep(500);
      const bareRssAfter = process.memoryUsage().rss;
      const pad = 'x'.repeat(Math.max(0, frameBytes - 40));
      let seq = 0;
      const b0 = performance.now();
      while (performance.now() - b0 < p.seconds * 1000) {
        const frame = `{"seq":${seq++},"sentAt":${now()},"pad":"${pad}"}`;
        for (const ws of sockets) ws.send(frame);
        await sleep(p.intervalMs);
      }
      await sleep(1000);
      const bareResults = await clients.stop();
      const lat = Float64Array.from(bareResults.flatMap((r) => r.bare?.latencies ?? [])).sort();
      const perSocket = bareResults.flatMap((r) => r.bare?.perSocket ?? []);
      for (const ws of sockets) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      bareReps.push({
        sockets: perSocket.length,
        rssPerSocketKiB: (bareRssAfter - bareRssBefore) / 1024 / p.subscribers,
        frames: seq,
        latencyMs: { p50: pct(lat, 50), p90: pct(lat, 90), p99: pct(lat, 99), max: lat.length ? lat[lat.length - 1] : NaN, samples: lat.length },
        missing: perSocket.reduce((n, c) => n + (seq - c), 0),
      });
      log(`      bare ws: p99 send→receipt ${fmt(bareReps[rep].latencyMs.p99, 1)} ms, ${seq} frames of ~${fmt(frameBytes, 0)} bytes, missing ${bareReps[rep].missing}`);
    }
  } finally {
    clients.close();
    if (pinned) execFileSync('taskset', ['-apc', '0-1', String(process.pid)], { stdio: 'ignore' });
  }

  const budget = bareReps.map((b) => p.intervalMs + 2 * b.latencyMs.p99);
  const comparisons: Comparison[] = [
    compare({ case: '3 live KPI fan-out', metric: 'p99 latency ms', higherIsBetter: false, siyuName: `kpiUpdated, ingest-ack → receipt (interval ${p.intervalMs} ms)`, siyu: siyuReps.map((r) => r.latencyMs.p99), referenceName: 'bare ws broadcast, send → receipt', reference: bareReps.map((b) => b.latencyMs.p99), target: null }),
    compare({ case: '3 live KPI fan-out', metric: 'p99 latency ms vs budget', higherIsBetter: false, siyuName: 'kpiUpdated, ingest-ack → receipt', siyu: siyuReps.map((r) => r.latencyMs.p99), referenceName: 'budget: interval + 2 × bare p99', reference: budget, target: 1 }),
    compare({ case: '3 live KPI fan-out', metric: 'server RSS KiB per subscriber', higherIsBetter: false, siyuName: 'graphql-ws kpiUpdated', siyu: siyuReps.map((r) => r.rssPerSubscriberKiB), referenceName: 'budget 100 KB (97.7 KiB)', reference: siyuReps.map(() => 100_000 / 1024), target: 1 }),
    compare({ case: '3 live KPI fan-out', metric: 'server RSS KiB per socket', higherIsBetter: false, siyuName: 'graphql-ws kpiUpdated', siyu: siyuReps.map((r) => r.rssPerSubscriberKiB), referenceName: 'bare ws socket', reference: bareReps.map((b) => b.rssPerSocketKiB), target: null }),
  ];
  const lostTotal = siyuReps.reduce((n, r) => n + r.lost, 0);
  const oooTotal = siyuReps.reduce((n, r) => n + r.outOfOrder, 0);
  const lines = [
    `- ${fmt(p.subscribers, 0)} subscribers, one \`kpiUpdated\` subscription per socket (\`${KPI_SUBSCRIPTION}\`), over ${p.processes} client processes; ${p.subscribers > 100 ? `${Math.ceil(p.subscribers / 100)} READ keys (100 sockets per key, the default per-key limit)` : 'one READ key'}; workspace \`liveUpdateIntervalMs\` ${p.intervalMs} (set by \`updateWorkspace\`), time zone ${zone} (noon now, so "today" does not roll over). ${p.reps} repetition(s) of ${p.seconds} s each for Siyu and for the bare reference.`,
    `- CPU pinning (\`taskset\`, 2 cores): ${pinned ? 'the bench process — Siyu, its in-process ingest and the bare ws server — on CPU 0, the client processes on CPU 1; PostgreSQL not pinned' : 'none (taskset unavailable)'}. The machine is shared with another engineer's benchmarks.`,
    `- Ingest alongside: in-process \`ingest()\` of demo-generator live sessions (\`DemoGenerator.liveSession\`, events timestamped now), ${p.batchSize} events per call. Sustainable rate measured with the subscribers attached, closed loop for ${p.calibrateSec} s: ${fmt(calibrated, 0)} events/s; run paced at 80% of it (at most ${fmt(p.maxRate, 0)}): ${siyuReps.map((r) => fmt(r.ingestRate, 0)).join(', ')} events/s achieved. The issue's 5,000 events/s is ${calibrated >= 5000 ? 'reached' : 'above what one core does with identity resolution'}.`,
    `- Latency: ack (\`ingest()\` returned, committed) of each batch containing an order → receipt of the first version whose ORDERS value covers it, at every subscriber (p50 ${siyuReps.map((r) => fmt(r.latencyMs.p50, 0)).join(', ')} ms; p99 ${siyuReps.map((r) => fmt(r.latencyMs.p99, 0)).join(', ')} ms; max ${siyuReps.map((r) => fmt(r.latencyMs.max, 0)).join(', ')} ms; ${siyuReps.map((r) => fmt(r.latencyMs.samples, 0)).join(', ')} samples). Bare: send → receipt of frames of the same size (${siyuReps.map((r) => fmt(r.frameBytes, 0)).join(', ')} bytes) at the same interval: p99 ${bareReps.map((b) => fmt(b.latencyMs.p99, 1)).join(', ')} ms. Target p99 ≤ interval + 2 × bare p99 = ${budget.map((b) => fmt(b, 0)).join(', ')} ms: ${siyuReps.every((r, i) => r.latencyMs.p99 <= budget[i]) ? 'met' : 'not met'}.`,
    `- Fan-out: first to last receipt of the same version over all subscribers (median over versions): ${siyuReps.map((r) => fmt(r.fanoutSpreadMs, 0)).join(', ')} ms — the value is computed once per version, the response executed and serialised once per version for all alike subscribers (src/platform/graphql/ws.ts), then one frame written per socket.`,
    `- Lost (a subscriber whose last value is not the final ORDERS count after the last ingest): ${lostTotal}; out of order (a version not above the previous one): ${oooTotal}; versions per subscriber ${siyuReps.map((r) => fmt(r.versionsPerSubscriber, 1)).join(', ')} (gaps allowed by design). Bare frames missing: ${bareReps.reduce((n, b) => n + b.missing, 0)}.`,
    `- Server RSS per subscriber (after − before subscribing, ÷ N; includes graphql-ws, the socket, its context and the Siyu mailbox): ${siyuReps.map((r) => fmt(r.rssPerSubscriberKiB, 1)).join(', ')} KiB (target ≤ 100 KB: ${siyuReps.every((r) => r.rssPerSubscriberKiB * 1024 <= 100_000) ? 'met' : 'not met'}); a bare ws socket: ${bareReps.map((b) => fmt(b.rssPerSocketKiB, 1)).join(', ')} KiB.`,
  ];
  return { comparisons, section: { title: 'Case 3: live KPI fan-out', lines }, details: { params: p, pinned, calibratedRate: calibrated, rate, siyu: siyuReps, bare: bareReps } };
}
