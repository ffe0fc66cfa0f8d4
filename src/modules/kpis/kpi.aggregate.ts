import { AppError } from '../../platform/errors';
import type { AttributionModel, AttributionReportValue, AttributionService } from '../attribution';
import type { KpiMetric } from './kpi.catalogue';
import { KpiErrorCode } from './kpi.errors';
import type { AggregateAttributionInput } from './kpi.inputs';
import { unfiltered, type Breakdown, type Grain, type KpiFilterSpec } from './kpi.repository';
import type { KpiRange, KpiSeriesResult, KpiService } from './kpi.service';
import { AttributionMeasure } from './kpi.type';

/** What `aggregate` reads: the KPI series and, for attribution measures, the attribution reports. */
export interface AggregateDeps {
  readonly kpis: KpiService;
  readonly attribution: Pick<AttributionService, 'inForce' | 'reports'>;
}

export interface AggregateRowValue {
  bucket: string;
  dimension: string | null;
  values: { measure: KpiMetric; value: number | null }[];
  attributed: { model: AttributionModel; measure: AttributionMeasure; conversion: string; value: number | null }[];
}

const bad = (field: string, message: string) => AppError.badInput(KpiErrorCode.INVALID_KPI_ARGUMENT, field, message);

/** The local date before `day` (YYYY-MM-DD). */
function dayBefore(day: string): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() - 1);
  return d.toISOString().slice(0, 10);
}

/**
 * Every row of an aggregate, bucket by bucket and dimension value (sorted; null without a
 * dimension): the KPI measures from `series`, and each attribution measure from one `reports` call
 * per model and conversion over the buckets' local days. A dimension value only one side has gets
 * null KPI values and zero credit (null cost, CAC and ROI) from the other.
 */
export async function aggregateRows(
  deps: AggregateDeps,
  ws: string,
  measures: KpiMetric[],
  attribution: AggregateAttributionInput[],
  range: KpiRange,
  grain: Grain,
  dimension: Breakdown,
  filter: KpiFilterSpec,
): Promise<AggregateRowValue[]> {
  if (!measures.length && !attribution.length) throw bad('measures', 'ask for at least one measure or attribution measure');
  if (measures.length + attribution.length > 30) throw bad(measures.length > 30 ? 'measures' : 'attribution', 'ask for at most 30 measures and attribution measures together');
  if (attribution.length) {
    if (grain === 'HOUR') throw bad('grain', 'attribution is kept per local day: use DAY, WEEK or MONTH with attribution measures');
    if (dimension !== 'NONE' && dimension !== 'CHANNEL' && dimension !== 'TOUCHPOINT') throw bad('dimension', 'attribution measures split by CHANNEL or TOUCHPOINT (campaigns through `attribution`)');
    if (!unfiltered(filter)) throw bad('filter', 'attribution measures take no filter');
  }
  const results: KpiSeriesResult[] = measures.length ? await deps.kpis.series(ws, measures, range, grain, dimension, filter) : [];
  const buckets = results.length ? results[0].total.points : await deps.kpis.localBuckets(ws, range, grain);

  // One report list per model and conversion asked; every bucket's local days, inclusive.
  const reports = new Map<string, AttributionReportValue[]>();
  if (attribution.length) {
    const settings = await deps.attribution.inForce(ws);
    const known = new Set(settings.settings.conversions.map((c) => c.key));
    attribution.forEach((a, i) => {
      if (a.conversion != null && !known.has(a.conversion)) throw bad(`attribution.${i}.conversion`, `no conversion definition ${JSON.stringify(a.conversion)}; defined: ${[...known].join(', ')}`);
    });
    const days = buckets.map((b) => ({ from: b.localStart.slice(0, 10), to: dayBefore(b.localEnd.slice(0, 10)) }));
    for (const a of attribution) {
      const id = `${a.model}|${a.conversion ?? ''}`;
      if (reports.has(id)) continue;
      const on = dimension === 'TOUCHPOINT' ? 'TOUCHPOINT' : 'CHANNEL';
      reports.set(id, await deps.attribution.reports(ws, { model: a.model, dimension: on, conversion: a.conversion ?? null }, days, settings));
    }
  }

  const series = results.map((r) => new Map(r.series.map((s) => [s.key, s])));
  const credited = [...reports.values()].flatMap((list) => list.flatMap((rep) => rep.rows.map((x) => x.value)));
  const keys: (string | null)[] = dimension === 'NONE' ? [null] : [...new Set([...results.flatMap((r) => r.series.map((s) => s.key ?? '')), ...credited])].sort();
  const rows: AggregateRowValue[] = [];
  buckets.forEach((b, bi) => {
    for (const key of keys) {
      rows.push({
        bucket: b.localStart,
        dimension: key,
        values: results.map((r, ri) => ({ measure: r.metric, value: (key === null ? r.total : series[ri].get(key))?.points[bi].value ?? null })),
        attributed: attribution.map((a) => {
          const rep = reports.get(`${a.model}|${a.conversion ?? ''}`)![bi];
          return { model: a.model, measure: a.measure, conversion: rep.conversion.key, value: attributed(rep, key, a.measure) };
        }),
      });
    }
  });
  return rows;
}

/** The report row field each attribution measure reads. */
const FIELD = {
  [AttributionMeasure.CONVERSIONS]: 'conversions',
  [AttributionMeasure.REVENUE]: 'revenue',
  [AttributionMeasure.SHARE]: 'share',
  [AttributionMeasure.COST]: 'cost',
  [AttributionMeasure.CAC]: 'cac',
  [AttributionMeasure.ROI]: 'roi',
} as const satisfies Record<AttributionMeasure, string>;

/** One attribution measure of a report: a value's row, or (key null) the bucket's totals. */
function attributed(rep: AttributionReportValue, key: string | null, m: AttributionMeasure): number | null {
  const round = (x: number) => Math.round(x * 1e6) / 1e6;
  const row =
    key === null
      ? { conversions: rep.conversions, revenue: rep.revenue, share: rep.conversions > 0 ? 1 : 0, cost: rep.cost, cac: rep.cost !== null && rep.conversions > 0 ? round(rep.cost / rep.conversions) : null, roi: rep.cost ? round(rep.revenue / rep.cost) : null }
      : (rep.rows.find((r) => r.value === key) ?? { conversions: 0, revenue: 0, share: 0, cost: null, cac: null, roi: null });
  return row[FIELD[m]];
}
