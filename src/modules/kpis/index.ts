import type { ModuleManifest } from '../../platform/module';
import type { Projection } from '../events';
import type { KpiService } from './kpi.service';
import { KpiResolver } from './kpi.resolver';
import { AlertResolver } from './alert.resolver';

export { KpiService } from './kpi.service';
export type { KpiRange, KpiSeriesResult, KpiSnapshotResult } from './kpi.service';
export { KpiMetric, CATALOGUE as KPI_CATALOGUE } from './kpi.catalogue';
export { KpiRangeInput } from './kpi.inputs';
export { AlertLevel } from './alert.type';
export { revenueOf } from './kpi.repository';
export type { KpiFilterSpec, Grain as KpiGrainKey, Breakdown as KpiBreakdownKey } from './kpi.repository';

export type { KpiResolverDeps } from './kpi.resolver';
export type { AlertResolverDeps } from './alert.resolver';

/** GraphQL resolvers of the module (registered in src/modules/registry.ts). */
export const KPI_RESOLVERS = [KpiResolver, AlertResolver] as const;

/** The kpis module: KPI rollups, targets and alerts. */
export const KPIS_MODULE = {
  name: 'kpis',
  resolvers: () => KPI_RESOLVERS,
  projection: (s) => s.kpis.projection,
} satisfies ModuleManifest<readonly Function[], { kpis: KpiService }, Projection>;
