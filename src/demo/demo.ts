import type { Logger } from '../platform/logging';
import type { AppServices } from '../services';
import { ingestInto, seed, type SeedReport } from './seed';
import { DEMO_ORG } from './org';

/** The `npm start` demo: small enough to seed in about a minute on the embedded database. */
export const DEMO = { profiles: 2000, days: 30, seed: 1 } as const;

export interface DemoSeeding {
  /** Resolves when seeding ended (finished, stopped or failed: failures are logged, never thrown). */
  readonly done: Promise<SeedReport | null>;
  /** Stops between two batches and waits for the batch in flight. */
  stop(): Promise<void>;
}

/**
 * Seeds the demo into a workspace in the background while the server already serves requests,
 * logging progress every `logEveryMs`. The server's own shutdown calls `stop()` before closing the
 * database.
 */
export function startDemoSeeding(services: Pick<AppServices, 'ingest' | 'workspaces' | 'org'>, workspaceId: string, log: Logger, logEveryMs = 5000): DemoSeeding {
  const controller = new AbortController();
  let last = performance.now();
  log.info({ workspaceId, ...DEMO }, 'demo: seeding demo data in the background');
  // Days follow the workspace's local midnights, so "today" on the dashboard has the demo's last day.
  // The demo brand's org tree first, so that ORG_NODE answers from the first batch on.
  const done = services.org.seedTree(workspaceId, DEMO_ORG).then(() => services.workspaces.getWorkspace(workspaceId)).then((ws) => seed(ingestInto(services, workspaceId), {
    ...DEMO,
    timeZone: ws.timeZone,
    signal: controller.signal,
    // Requests in between batches (the embedded database is on this thread): ~40 ms per batch.
    pauseMs: 40,
    onProgress(p) {
      const now = performance.now();
      if (now - last < logEveryMs) return;
      last = now;
      const rate = p.elapsedMs > 0 ? p.events / (p.elapsedMs / 1000) : 0;
      log.info(
        { events: p.events, total: p.total, percent: Math.floor((p.events / Math.max(1, p.total)) * 100), eventsPerSecond: Math.round(rate), etaSeconds: rate ? Math.round((p.total - p.events) / rate) : null },
        'demo: seeding',
      );
    },
  })).then(
    (r) => {
      if (r.stopped) log.info({ events: r.events, total: r.total }, 'demo: seeding stopped; the events sent so far are stored');
      else log.info({ events: r.events, accepted: r.accepted, rejected: r.rejected, faultsRejected: r.faults.rejected, seconds: Math.round(r.elapsedMs / 100) / 10 }, 'demo: seeded');
      return r;
    },
    (err: unknown) => {
      if (!controller.signal.aborted) log.error({ err }, 'demo: seeding failed');
      return null;
    },
  );
  return {
    done,
    async stop() {
      controller.abort();
      await done;
    },
  };
}
