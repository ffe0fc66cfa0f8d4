import type { SiyuApp } from '../../src/app';
import { createHash } from 'node:crypto';
import { DemoGenerator, type DemoEvent } from '../../src/demo/generator';
import { systemActor } from '../../src/modules/compliance';
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

/**
 * The A/B test of both workspaces' history: a quarter of the template's product views come with an
 * `Experiment Viewed` event a millisecond later (the variant by a hash of the event's first
 * identifier, so a person seen under several ids can meet both variants, as real exposures do);
 * defined before the history like an analyst would.
 */
export const BENCH_EXPERIMENT = {
  key: 'bench_checkout',
  name: 'Checkout button (bench)',
  variants: [
    { key: 'control', name: 'Control', weight: 1, control: true },
    { key: 'green', name: 'Green button', weight: 1, control: false },
  ],
  rolloutPercent: 100,
  clickEvent: 'Product Added',
  conversionEvent: 'Order Completed',
  conversionWindowDays: 7,
};

const h = (s: string) => createHash('sha256').update(s).digest().readUInt32BE(0);

function withExposures(batches: Iterable<DemoEvent[]>): DemoEvent[][] {
  const out: DemoEvent[][] = [];
  for (const b of batches) {
    const next: DemoEvent[] = [];
    for (const e of b) {
      next.push(e);
      if (e.type !== 'track' || e.name !== 'Product Viewed' || h(e.messageId) % 4 !== 0) continue;
      const variant = BENCH_EXPERIMENT.variants[h(e.identifiers[0].value) % 2];
      next.push({
        ...e,
        messageId: `${e.messageId}~exp`,
        name: 'Experiment Viewed',
        timestamp: new Date(Date.parse(e.timestamp) + 1).toISOString(),
        properties: { experiment_id: BENCH_EXPERIMENT.key, experiment_name: BENCH_EXPERIMENT.name, variation_id: variant.key, variation_name: variant.name },
      });
    }
    out.push(next);
  }
  return out;
}

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
  const template = withExposures(gen.batches(o.batchSize));
  const templateEvents = template.reduce((n, b) => n + b.length, 0);
  const build = async (name: string, copies: number): Promise<HistoryWorkspace> => {
    const workspaceId = (await app.services.workspaces.createWorkspace(name, TIME_ZONE)).workspace.id;
    for (const f of o.savedFunnels ?? []) await app.services.kpis.saveFunnel(workspaceId, f.name, f.steps, f.withinHours);
    await app.services.experiments.create(systemActor(workspaceId), BENCH_EXPERIMENT);
    log(`  ${name}: ${fmt(templateEvents, 0)} demo events (${fmt(size.profiles, 0)} people, ${size.days} days) through the ingest service, × ${copies}`);
    const loaded = await loadWorkspace({ app, databaseUrl: o.databaseUrl, workspaceId, template, templateEvents, copies, log });
    return { name, workspaceId, copies, ...loaded };
  };
  const small = await build(`bench kpi history ×${size.copies}`, size.copies);
  const large = await build(`bench kpi history ×${size.copies * factor}`, size.copies * factor);
  return { size, factor, templateEvents, start: gen.start, end: gen.end, tz: TIME_ZONE, small, large, seconds: (performance.now() - t0) / 1000 };
}
