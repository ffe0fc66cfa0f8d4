import type { WorkspaceLocaleKey } from '../workspaces';
import { CATALOGUE, METRIC_DISPLAY, type KpiMetric } from './kpi.catalogue';
import type { KpiRange } from './kpi.service';

/**
 * Alert messages, written once in the workspace's language (`Workspace.locale`): the whole sentence,
 * the metric's name and its values rounded with their unit (percent for rates, ¥ for money, whole
 * numbers for counts). The rule's name is the user's own text and is quoted as given.
 */

const INTL_LOCALE: Record<WorkspaceLocaleKey, string> = { 'zh-CN': 'zh-CN', en: 'en-US' };

/** A metric value as people read it: `33.3%`, `¥1,234.50`, `1,235`, `-12.5`. */
export function formatMetricValue(locale: WorkspaceLocaleKey, metric: KpiMetric, value: number | null): string {
  if (value === null || !Number.isFinite(value)) return locale === 'en' ? 'no data' : '无数据';
  const format = (options: Intl.NumberFormatOptions) => new Intl.NumberFormat(INTL_LOCALE[locale], options).format(value);
  switch (METRIC_DISPLAY[metric].unit) {
    case 'rate':
      return format({ style: 'percent', maximumFractionDigits: 1 });
    case 'currency':
      return format({ style: 'currency', currency: 'CNY', currencyDisplay: 'narrowSymbol', minimumFractionDigits: 2, maximumFractionDigits: 2 });
    case 'count':
      return format({ maximumFractionDigits: 0 });
    default:
      return format({ maximumFractionDigits: 2 });
  }
}

export function metricName(locale: WorkspaceLocaleKey, metric: KpiMetric): string {
  return locale === 'en' ? METRIC_DISPLAY[metric].en : CATALOGUE[metric].label;
}

export interface AlertFacts {
  ruleName: string;
  metric: KpiMetric;
  /** The days measured; `partial` when today (not yet over) is one of them. */
  range: KpiRange;
  partial: boolean;
  value: number | null;
  reference: number | null;
}

function period(locale: WorkspaceLocaleKey, { range, partial }: AlertFacts): string {
  const days = range.from === range.to ? range.from : locale === 'en' ? `${range.from} to ${range.to}` : `${range.from} 至 ${range.to}`;
  if (!partial) return days;
  return locale === 'en' ? `${days}, so far` : `${days}，截至目前`;
}

/** ABOVE/BELOW: "orders surge: Orders is 3, above the threshold of 2 (2026-11-23, so far)". */
export function thresholdMessage(locale: WorkspaceLocaleKey, kind: 'above' | 'below', f: AlertFacts): string {
  const [name, value, reference] = [metricName(locale, f.metric), formatMetricValue(locale, f.metric, f.value), formatMetricValue(locale, f.metric, f.reference)];
  if (locale === 'en') return `${f.ruleName}: ${name} is ${value}, ${kind} the threshold of ${reference} (${period(locale, f)})`;
  return `${f.ruleName}：${name}为 ${value}，${kind === 'above' ? '高于' : '低于'}阈值 ${reference}（${period(locale, f)}）`;
}

/** DEVIATION: "GMV target: GMV is ¥200.00 against the target of ¥400.00 (…), 50% below the target (allowed 5%)". */
export function deviationMessage(locale: WorkspaceLocaleKey, f: AlertFacts, deviation: number | null, allowedPct: number): string {
  const [name, value, reference] = [metricName(locale, f.metric), formatMetricValue(locale, f.metric, f.value), formatMetricValue(locale, f.metric, f.reference)];
  const percent = (x: number) => new Intl.NumberFormat(INTL_LOCALE[locale], { style: 'percent', maximumFractionDigits: 1 }).format(x);
  const allowed = percent(allowedPct / 100);
  if (locale === 'en') {
    const off = deviation === null ? 'deviation unknown' : `${percent(Math.abs(deviation))} ${deviation > 0 ? 'above' : 'below'} the target`;
    return `${f.ruleName}: ${name} is ${value} against the target of ${reference} (${period(locale, f)}), ${off} (allowed ${allowed})`;
  }
  const off = deviation === null ? '偏差无法计算' : `${deviation > 0 ? '高于' : '低于'}目标 ${percent(Math.abs(deviation))}`;
  return `${f.ruleName}：${name}为 ${value}，目标 ${reference}（${period(locale, f)}），${off}（允许偏差 ${allowed}）`;
}
