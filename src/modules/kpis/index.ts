import type { ModuleManifest } from '../../platform/module';
import type { Projection } from '../events';
import type { KpiService } from './kpi.service';
import { KpiResolver } from './kpi.resolver';
import { AlertResolver } from './alert.resolver';

export { KpiService } from './kpi.service';
export type { KpiRange, KpiSeriesResult, KpiSnapshotResult } from './kpi.service';
export { KpiMetric, CATALOGUE as KPI_CATALOGUE } from './kpi.catalogue';
export type { KpiFilterSpec, Grain as KpiGrainKey, Breakdown as KpiBreakdownKey } from './kpi.repository';

/** GraphQL resolvers of the module (registered in src/modules/registry.ts). */
export const KPI_RESOLVERS: Function[] = [KpiResolver, AlertResolver];

/** The kpis module: KPI rollups, targets and alerts. */
export const KPIS_MODULE: ModuleManifest<{ kpis: KpiService }, Projection> = {
  name: 'kpis',
  // A getter: resolver classes are read when the schema is built, after every module has loaded.
  get resolvers() {
    return KPI_RESOLVERS;
  },
  projection: (s) => s.kpis.projection,
};
