import type { RawEvent } from '../modules/events';
import type { Rejection } from '../platform/errors';
import type { AppServices } from '../services';
import { DemoGenerator, type DemoEvent, type GeneratorOptions } from './generator';

/**
 * Seeding: the generator's events through the normal ingest service, in batches, so identity
 * resolution and every read model are real. Idempotent by messageId: a re-run (same seed, same
 * window) stores nothing twice.
 */

export const SEED_BATCH_SIZE = 500;

export interface SeedProgress {
  /** Events sent so far, and in total. */
  events: number;
  total: number;
  accepted: number;
  duplicates: number;
  rejected: number;
  elapsedMs: number;
}

export interface SeedReport extends SeedProgress {
  /** First rejections (there should be none: the generator makes valid events). */
  rejections: ({ messageId: string | null } & Rejection)[];
  /** Set when `signal` stopped the run between two batches. */
  stopped: boolean;
  /** The integration mistakes sent after the population (`FAULTS`) and how many ingest rejected (all of them). */
  faults: { sent: number; rejected: number };
}

/**
 * What a real integration gets wrong now and then, sent once after the population so that
 * INGEST_ERROR_RATE (接入错误率) has something to show: an unknown channel, a timestamp that is not
 * one, no identifier, a negative order. Counted apart from the generated events (all valid, so
 * `rejections` stays empty), with message ids fixed by the seed (a re-run sends them again).
 */
export function faultyEvents(seed: number, end: number): RawEvent[] {
  const at = new Date(end - 60_000).toISOString();
  const id = (k: string) => ({ type: 'member_id', value: `fault-${seed}-${k}` });
  return [
    { messageId: `fault-${seed}-channel`, type: 'track', name: 'Product Viewed', channel: 'myspace', timestamp: at, identifiers: [id('channel')] },
    { messageId: `fault-${seed}-timestamp`, type: 'track', name: 'Product Viewed', channel: 'app', timestamp: 'yesterday', identifiers: [id('timestamp')] },
    { messageId: `fault-${seed}-identifiers`, type: 'track', name: 'Home Viewed', channel: 'wechat_mp', timestamp: at, identifiers: [] },
    { messageId: `fault-${seed}-revenue`, type: 'track', name: 'Order Completed', channel: 'store', timestamp: at, identifiers: [id('revenue')], properties: { revenue: -5 } },
  ];
}

export interface SeedRunOptions extends GeneratorOptions {
  batchSize?: number;
  /** Stops between two batches; what was sent stays (a re-run continues: stored events are duplicates). */
  signal?: AbortSignal;
  onProgress?(p: SeedProgress): void;
  /**
   * Pause between batches. The embedded database runs on this thread and never waits for I/O, so a
   * server seeding itself must let the event loop breathe or it answers no request until done.
   */
  pauseMs?: number;
}

export type Ingest = (events: (DemoEvent | RawEvent)[]) => Promise<{ status: 'ACCEPTED' | 'DUPLICATE' | 'REJECTED'; messageId: string | null; error: Rejection | null }[]>;

/** An `Ingest` through this process's ingest service. */
export function ingestInto(services: Pick<AppServices, 'ingest'>, workspaceId: string): Ingest {
  return async (events) => (await services.ingest.ingest(workspaceId, events)).results;
}

/** Generates and ingests a population; resolves to the report (also when stopped by the signal). */
export async function seed(ingest: Ingest, opts: SeedRunOptions): Promise<SeedReport> {
  const gen = new DemoGenerator(opts);
  const started = performance.now();
  const report: SeedReport = { events: 0, total: gen.count(), accepted: 0, duplicates: 0, rejected: 0, elapsedMs: 0, rejections: [], stopped: false, faults: { sent: 0, rejected: 0 } };
  for (const batch of gen.batches(opts.batchSize ?? SEED_BATCH_SIZE)) {
    if (opts.signal?.aborted) {
      report.stopped = true;
      break;
    }
    const results = await ingest(batch);
    for (const r of results) {
      if (r.status === 'ACCEPTED') report.accepted++;
      else if (r.status === 'DUPLICATE') report.duplicates++;
      else {
        report.rejected++;
        if (report.rejections.length < 20 && r.error) report.rejections.push({ messageId: r.messageId, ...r.error });
      }
    }
    report.events += batch.length;
    report.elapsedMs = performance.now() - started;
    opts.onProgress?.({ ...report });
    await new Promise<void>((resolve) => (opts.pauseMs ? setTimeout(resolve, opts.pauseMs) : setImmediate(resolve)));
  }
  if (!report.stopped) {
    const faults = await ingest(faultyEvents(gen.seed, gen.end));
    report.faults = { sent: faults.length, rejected: faults.filter((r) => r.status === 'REJECTED').length };
  }
  report.elapsedMs = performance.now() - started;
  return report;
}
