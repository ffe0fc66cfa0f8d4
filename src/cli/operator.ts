import { SingleBar } from 'cli-progress';
import { AppError } from '../platform/errors';
import { DemoGenerator, MAX_DAYS, MAX_PROFILES, Rng, mix, type DemoEvent } from '../demo/generator';
import { ingestInto, seed, type SeedProgress } from '../demo/seed';
import { DEMO_ORG } from '../demo/org';
import { workspaceSummary } from '../demo/summary';
import { DEMO } from '../demo/demo';
import type { RecomputePart, RecomputeProgress } from '../modules/recompute';
import { MAX_EVENTS_PER_BATCH } from '../modules/events';
import { CliError, EXIT, findWorkspace, onlyWorkspace, say, withLocal, type Local } from './siyu';
import type { ImportSink } from './import';

/**
 * Operator commands: `siyu seed` (demo data), `siyu simulate` (live traffic), `siyu recompute`
 * (rebuild read models). Results on stdout; progress, warnings and errors on stderr.
 */

const n = (v: number) => Math.round(v).toLocaleString('en-US');

export function wholeNumber(flag: string, value: string, min: number, max: number): number {
  const v = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(v) || v < min || v > max) throw new CliError(`${flag} ${value}: must be a whole number from ${n(min)} to ${n(max)}`);
  return v;
}

function positiveNumber(flag: string, value: string, max: number): number {
  const v = Number(value);
  if (!/^\s*\d+(\.\d+)?\s*$/.test(value) || !Number.isFinite(v) || v <= 0 || v > max) throw new CliError(`${flag} ${value}: must be a number above 0 and at most ${n(max)}`);
  return v;
}

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
}

/** Ctrl-C (and SIGTERM) abort `controller` once; a second Ctrl-C exits at once. */
function onInterrupt(controller: AbortController, what: string): () => void {
  let count = 0;
  const handler = () => {
    count++;
    if (count === 1) {
      process.stderr.write(`\n${what}: stopping after the current batch (Ctrl-C again to quit at once)…\n`);
      controller.abort();
    } else process.exit(EXIT.FATAL);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

/** A terminal progress bar, or a line every 10 s when stderr is not a terminal. */
function progressBar(label: string, unit: string): { start(total: number): void; update(value: number, total: number, rate: number): void; stop(): void } {
  if (process.stderr.isTTY) {
    const bar = new SingleBar({
      stream: process.stderr,
      format: `${label} [{bar}] {percentage}% | {value}/{total} ${unit} | {rate} ${unit}/s | ETA {eta_formatted}`,
      barsize: 30,
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 20,
      fps: 5,
    });
    return {
      start: (total) => bar.start(Math.max(total, 1), 0, { rate: '0' }),
      update: (value, total, rate) => {
        bar.setTotal(Math.max(total, 1));
        bar.update(value, { rate: n(rate) });
      },
      stop: () => bar.stop(),
    };
  }
  let last = performance.now();
  return {
    start() {},
    update(value, total, rate) {
      const now = performance.now();
      if (now - last < 10_000) return;
      last = now;
      const eta = rate > 0 ? ((total - value) / rate) * 1000 : 0;
      process.stderr.write(`${label}: ${Math.floor((value / Math.max(total, 1)) * 100)}% — ${n(value)}/${n(total)} ${unit}, ${n(rate)} ${unit}/s, ETA ${duration(eta)}\n`);
    },
    stop() {},
  };
}

function busy(err: unknown, hint: string): never {
  if (err instanceof AppError && err.reason === 'DATA_DIR_LOCKED') throw new CliError(`${err.message} ${hint}`, EXIT.FATAL);
  throw err;
}

// ---- siyu seed ---------------------------------------------------------------------------------

export interface SeedCliOptions {
  profiles: string;
  days: string;
  seed: string;
  workspace?: string;
  batchSize: string;
}

export async function seedCommand(o: SeedCliOptions): Promise<number> {
  const profiles = wholeNumber('--profiles', o.profiles, 1, MAX_PROFILES);
  const days = wholeNumber('--days', o.days, 1, MAX_DAYS);
  const seedValue = wholeNumber('--seed', o.seed, 0, 0xffffffff);
  const batchSize = wholeNumber('--batch-size', o.batchSize, 1, MAX_EVENTS_PER_BATCH);
  const controller = new AbortController();
  const release = onInterrupt(controller, 'siyu seed');
  try {
    return await withLocal({ pubsub: true }, async (local) => {
      const ws = await seedTarget(local, o.workspace);
      // Days follow the workspace's local midnights: the last day is the workspace's today so far.
      const { timeZone } = await local.services.workspaces.getWorkspace(ws.id);
      const gen = new DemoGenerator({ profiles, days, seed: seedValue, timeZone });
      process.stderr.write(`siyu seed: ${n(profiles)} people over ${days} days (seed ${seedValue}) → workspace "${ws.name}" (${ws.id})\n`);
      // The demo brand's org tree (stores, online teams, staff), unless the workspace has one.
      if (await local.services.org.seedTree(ws.id, DEMO_ORG)) say(`Set up the demo org tree in workspace "${ws.name}": ${DEMO_ORG.nodes.length} nodes, ${Object.keys(DEMO_ORG.touchpoints).length} touchpoints and ${Object.keys(DEMO_ORG.staff).length} staff on them (orgTree)`);
      const bar = progressBar('seeding', 'events');
      bar.start(gen.count());
      let report;
      try {
        report = await seed(ingestInto(local.services, ws.id), {
          profiles,
          days,
          seed: seedValue,
          end: gen.end,
          timeZone,
          batchSize,
          signal: controller.signal,
          onProgress: (p: SeedProgress) => bar.update(p.events, p.total, p.elapsedMs > 0 ? p.events / (p.elapsedMs / 1000) : 0),
        });
      } finally {
        bar.stop();
      }
      const s = await workspaceSummary(local.db.dataSource.manager, ws.id);
      const secs = report.elapsedMs / 1000;
      const lines = [
        `${report.stopped ? 'Stopped seeding' : 'Seeded'} workspace "${ws.name}" (${ws.id}) in ${secs.toFixed(1)}s — ${n(report.events / Math.max(secs, 0.001))} events/s`,
        `  events:     ${n(report.events)} of ${n(report.total)} (${n(report.accepted)} accepted, ${n(report.duplicates)} duplicate, ${n(report.rejected)} rejected)`,
        `  faults:     ${n(report.faults.rejected)} of ${n(report.faults.sent)} deliberately malformed events rejected (INGEST_ERROR_RATE has data)`,
        `  workspace:  ${n(s.people)} people, ${n(s.merges)} identity merges, ${n(s.orders)} orders (GMV ¥${n(s.revenue)}), ${n(s.invites)} invites, ${n(s.shares)} shares, ${n(s.groupBuys)} group buys`,
      ];
      for (const r of report.rejections) lines.push(`  rejected ${r.messageId}: ${r.reason}${r.field ? ` at ${r.field}` : ''}: ${r.message}`);
      say(lines.join('\n'));
      if (report.stopped) throw new CliError('interrupted; the events sent so far are stored — re-running the same command continues (stored events count as duplicates)', EXIT.FATAL);
      return report.rejected ? EXIT.REJECTED : EXIT.OK;
    });
  } catch (err) {
    busy(err, 'Stop the server first (seeding writes through this process), or keep traffic flowing into it with `siyu simulate --url … --key …`.');
  } finally {
    release();
  }
}

/** --workspace, else the only workspace, else (empty database) a new workspace "demo" with its key printed. */
async function seedTarget(local: Local, workspace: string | undefined): Promise<{ id: string; name: string }> {
  if (workspace !== undefined) return findWorkspace(local, workspace);
  const [{ count }] = await local.db.dataSource.query('SELECT count(*)::int AS count FROM workspaces');
  if (count > 0) return onlyWorkspace(local);
  const { workspace: ws, key } = await local.services.workspaces.createWorkspace('demo', undefined);
  say([`Created workspace "demo" for the seed.`, `  workspace id:  ${ws.id}`, `  admin key:     ${key}`, 'The admin key is shown once: store it now.'].join('\n'));
  return { id: ws.id, name: ws.name };
}

// ---- siyu simulate -----------------------------------------------------------------------------

export interface SimulateCliOptions {
  rate: string;
  url?: string;
  key?: string;
  workspace?: string;
  profiles: string;
  seed: string;
  newPeople: string;
  duration?: string;
}

/** Picks who acts next: mostly existing people (heavy users more often), some new ones. */
export function simulatedTraffic(gen: DemoGenerator, runId: string, newShare: number): (now: number) => DemoEvent[] {
  const rng = new Rng(mix(gen.seed, runId, 'simulate'));
  let fresh = gen.profiles + (mix(runId, 'fresh') % 1_000_000) * 1000;
  return (now) => {
    if (rng.chance(newShare)) return gen.liveSession(fresh++, now, runId, rng);
    // Heavier users act more often: the squared uniform favours low indices, whose activity is random anyway.
    const index = Math.min(gen.profiles - 1, Math.floor(gen.profiles * rng.next() * rng.next() * 2));
    return gen.liveSession(index, now, runId, rng);
  };
}

export async function simulateCommand(o: SimulateCliOptions): Promise<number> {
  const rate = positiveNumber('--rate', o.rate, 10_000);
  const profiles = wholeNumber('--profiles', o.profiles, 1, MAX_PROFILES);
  const seedValue = wholeNumber('--seed', o.seed, 0, 0xffffffff);
  const newShare = Number(o.newPeople);
  if (!/^\s*(0(\.\d+)?|1(\.0+)?)\s*$/.test(o.newPeople)) throw new CliError(`--new-people ${o.newPeople}: must be a share from 0 to 1 (e.g. 0.1)`);
  const durationS = o.duration === undefined ? undefined : positiveNumber('--duration', o.duration, 7 * 86_400);
  if ((o.url === undefined) !== (o.key === undefined)) throw new CliError('--url and --key go together (remote mode); omit both to write into the configured database');
  const imp = await import('./import');
  const controller = new AbortController();
  const release = onInterrupt(controller, 'siyu simulate');
  const run = async (sink: ImportSink): Promise<number> => {
    const gen = new DemoGenerator({ profiles, days: DEMO.days, seed: seedValue });
    const runId = Date.now().toString(36);
    const next = simulatedTraffic(gen, runId, newShare);
    process.stderr.write(`siyu simulate: ${n(rate)} events/s → ${sink.target}${durationS ? ` for ${durationS}s` : ' until Ctrl-C'}\n`);
    const t0 = performance.now();
    const stats = { sent: 0, accepted: 0, duplicates: 0, rejected: 0 };
    const firstRejections: string[] = [];
    let queue: DemoEvent[] = [];
    let budget = 0;
    let last = t0;
    let lastReport = t0;
    const tickMs = 250;
    while (!controller.signal.aborted) {
      const now = performance.now();
      if (durationS !== undefined && now - t0 >= durationS * 1000) break;
      // Token bucket: at most one second of backlog, so a slow server is not flooded afterwards.
      budget = Math.min(budget + ((now - last) / 1000) * rate, Math.max(rate, 1));
      last = now;
      const due = Math.floor(budget);
      if (due > 0) {
        while (queue.length < due) queue.push(...next(Date.now()));
        const batch = queue.slice(0, Math.min(due, MAX_EVENTS_PER_BATCH));
        queue = queue.slice(batch.length);
        budget -= batch.length;
        const results = await sink.send(batch);
        for (const r of results) {
          if (r.status === 'ACCEPTED') stats.accepted++;
          else if (r.status === 'DUPLICATE') stats.duplicates++;
          else {
            stats.rejected++;
            if (firstRejections.length < 5 && r.error) firstRejections.push(`${r.messageId}: ${r.error.reason}${r.error.field ? ` at ${r.error.field}` : ''}: ${r.error.message}`);
          }
        }
        stats.sent += batch.length;
      }
      if (performance.now() - lastReport >= 5000) {
        lastReport = performance.now();
        const secs = (lastReport - t0) / 1000;
        process.stderr.write(`siyu simulate: ${n(stats.sent)} events in ${duration(lastReport - t0)} (${n(stats.sent / secs)}/s; ${n(stats.accepted)} accepted, ${n(stats.rejected)} rejected)\n`);
      }
      const wait = tickMs - (performance.now() - now);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    const secs = (performance.now() - t0) / 1000;
    const lines = [
      `Simulated ${n(stats.sent)} events in ${secs.toFixed(1)}s — ${n(stats.sent / Math.max(secs, 0.001))} events/s → ${sink.target}`,
      `  accepted:   ${n(stats.accepted)}`,
      `  duplicate:  ${n(stats.duplicates)}`,
      `  rejected:   ${n(stats.rejected)}`,
      ...firstRejections.map((r) => `  rejected ${r}`),
    ];
    say(lines.join('\n'));
    return stats.rejected ? EXIT.REJECTED : EXIT.OK;
  };
  try {
    if (o.url !== undefined && o.key !== undefined) {
      const sink = await imp.connectRemote({ url: o.url, key: o.key });
      if (o.workspace !== undefined && o.workspace !== sink.workspaceId) {
        throw new CliError(`--workspace ${o.workspace}: the key belongs to workspace ${sink.workspaceId} ("${sink.workspaceName}")`);
      }
      return await run(sink);
    }
    return await withLocal({ pubsub: true }, async (local) => {
      const ws = o.workspace !== undefined ? await findWorkspace(local, o.workspace) : await onlyWorkspace(local);
      return run(imp.directSink(local.services, ws.id, `workspace "${ws.name}" (${ws.id})`));
    });
  } catch (err) {
    if (err instanceof imp.ImportError) throw new CliError(err.message, err.exitCode);
    busy(err, 'The server holds the embedded database: send the traffic through it with --url http://<host>:<port> --key <INGEST key>.');
  } finally {
    release();
  }
}

// ---- siyu recompute ----------------------------------------------------------------------------

export interface RecomputeCliOptions {
  workspace?: string;
  only?: string;
  chunk: string;
  restart?: boolean;
}

/** `--only` against the read models with a rebuild phase (`known`, in their order). */
export function parseParts(only: string | undefined, known: readonly RecomputePart[]): RecomputePart[] {
  if (only === undefined) return [...known];
  const parts = only.split(',').map((p) => p.trim().toLowerCase()).filter(Boolean);
  if (!parts.length) throw new CliError(`--only: name at least one of ${known.join(', ')}`);
  const bad = parts.find((p) => !known.includes(p));
  if (bad !== undefined) throw new CliError(`--only ${only}: unknown read model "${bad}"; choose from ${known.join(', ')}`);
  return known.filter((p) => parts.includes(p));
}

export async function recomputeCommand(o: RecomputeCliOptions): Promise<number> {
  const chunk = wholeNumber('--chunk', o.chunk, 1, 10_000);
  const controller = new AbortController();
  const release = onInterrupt(controller, 'siyu recompute');
  try {
    return await withLocal({ pubsub: true }, async (local) => {
      // The parts are the projections with a rebuild phase: known once the services exist.
      const service = local.services.recompute;
      const parts = parseParts(o.only, service.parts);
      const ws = o.workspace !== undefined ? await findWorkspace(local, o.workspace) : await onlyWorkspace(local);
      process.stderr.write(`siyu recompute: ${parts.join(', ')} of workspace "${ws.name}" (${ws.id})\n`);
      let bar: ReturnType<typeof progressBar> | null = null;
      let current: string | null = null;
      const onProgress = (p: RecomputeProgress) => {
        if (current !== p.part) {
          bar?.stop();
          current = p.part;
          if (p.resumedAt > 0) process.stderr.write(`siyu recompute: ${p.part}: resuming an interrupted run after ${n(p.resumedAt)} of ${n(p.total)} profiles\n`);
          bar = progressBar(p.part.padEnd(6), 'profiles');
          bar.start(p.total);
        }
        const fresh = p.done - p.resumedAt;
        bar!.update(p.done, p.total, p.elapsedMs > 0 ? fresh / (p.elapsedMs / 1000) : 0);
      };
      let result;
      try {
        result = await service.run(ws.id, { parts, chunk, restart: o.restart === true, signal: controller.signal, onProgress });
      } finally {
        (bar as ReturnType<typeof progressBar> | null)?.stop();
      }
      const lines = [`${result.stopped ? 'Stopped recomputing' : 'Recomputed'} workspace "${ws.name}" (${ws.id})`];
      for (const p of result.parts) {
        lines.push(
          `  ${p.part.padEnd(7)} ${n(p.done)}/${n(p.total)} profiles in ${(p.elapsedMs / 1000).toFixed(1)}s${p.resumedAt ? ` (resumed after ${n(p.resumedAt)})` : ''}` +
            `${p.changes ? `, ${n(p.changes)} tag/segment changes` : ''}${p.finished ? '' : ' — unfinished'}`,
        );
      }
      say(lines.join('\n'));
      if (result.stopped) throw new CliError('interrupted; run the same command again to resume where it stopped (or add --restart to start over)', EXIT.FATAL);
      return EXIT.OK;
    });
  } catch (err) {
    busy(err, 'Stop the server first: recompute rebuilds read models in this process.');
  } finally {
    release();
  }
}
