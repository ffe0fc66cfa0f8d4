import type { SiyuApp } from '../../src/app';
import { DemoGenerator } from '../../src/demo/generator';
import { loadWorkspace, type LoadedWorkspace } from './base-dataset';
import { fmt } from './stats';

/**
 * Two workspaces with the same history shape, one `factor` times the other (bench/cases/kpi-catalogue.ts
 * measures how KPI reads grow with history).
 *
 * Both hold the same demo population (src/demo/generator.ts: `profiles` people over `days` days
 * ending now, days aligned with the workspace's local midnights, so today has data), ingested
 * through Siyu's ingest service once per workspace, then copied by set-based SQL
 * (bench/lib/base-dataset.ts `loadWorkspace`): `copies` times into the smaller one, `factor ×
 * copies` times into the larger. Same days, same hours, same channels and touchpoints: every day of
 * the larger holds `factor ×` the events, people and rollup rows of the smaller's, so a count KPI is
 * `factor ×` and a rate the same in both (the case checks this on every answer).
 */

export interface HistoryPairSize {
  /** People of the demo template (about 30 events each over 60 days). */
  profiles: number;
  /** Days of history, ending now. */
  days: number;
  /** Copies of the template in the smaller workspace (the larger gets `factor ×` as many). */
  copies: number;
}

export interface HistoryWorkspace extends LoadedWorkspace {
  name: string;
  workspaceId: string;
  copies: number;
}

export interface HistoryPair {
  size: HistoryPairSize;
  factor: number;
  templateEvents: number;
  /** Template window (ms since the epoch): first day's local midnight, and the end (now at build time). */
  start: number;
  end: number;
  tz: string;
  small: HistoryWorkspace;
  large: HistoryWorkspace;
  seconds: number;
}

const TIME_ZONE = 'Asia/Shanghai';

export async function buildHistoryPair(o: {
  app: SiyuApp;
  databaseUrl: string;
  size: HistoryPairSize;
  factor: number;
  seed: number;
  batchSize: number;
  log: (m: string) => void;
  /** Funnels saved in both workspaces before their history (kept by ingest and the rollups' rebuild). */
  savedFunnels?: readonly { name: string; steps: string[]; withinHours: number }[];
}): Promise<HistoryPair> {
  const { app, size, factor, log } = o;
  const t0 = performance.now();
  const gen = new DemoGenerator({ profiles: size.profiles, days: size.days, seed: o.seed, end: Date.now(), timeZone: TIME_ZONE });
  const templateEvents = gen.count();
  const build = async (name: string, copies: number): Promise<HistoryWorkspace> => {
    const workspaceId = (await app.services.workspaces.createWorkspace(name, TIME_ZONE)).workspace.id;
    for (const f of o.savedFunnels ?? []) await app.services.kpis.saveFunnel(workspaceId, f.name, f.steps, f.withinHours);
    log(`  ${name}: ${fmt(templateEvents, 0)} demo events (${fmt(size.profiles, 0)} people, ${size.days} days) through the ingest service, × ${copies}`);
    const loaded = await loadWorkspace({ app, databaseUrl: o.databaseUrl, workspaceId, template: gen.batches(o.batchSize), templateEvents, copies, log });
    return { name, workspaceId, copies, ...loaded };
  };
  const small = await build(`bench kpi history ×${size.copies}`, size.copies);
  const large = await build(`bench kpi history ×${size.copies * factor}`, size.copies * factor);
  return { size, factor, templateEvents, start: gen.start, end: gen.end, tz: TIME_ZONE, small, large, seconds: (performance.now() - t0) / 1000 };
}
