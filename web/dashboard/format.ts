import { currentLang } from './i18n';

const RATES = new Set(['CONVERSION_RATE', 'RETENTION_D1', 'RETENTION_D7', 'RETENTION_D30', 'REPURCHASE_RATE', 'CHURN_RATE', 'DAU_SHARE', 'GROWTH_RATE', 'INTERACTION_RATE', 'ORGANIC_SHARE', 'REFERRAL_RATE', 'FIRST_CONVERSION_RATE', 'SILENT_WAKEUP_RATE', 'STICKINESS']);
const MONEY = new Set(['GMV', 'AOV', 'ARPU', 'LTV', 'REVENUE_PER_PROFILE']);

function locale(): string {
  return currentLang() === 'zh' ? 'zh-CN' : 'en-US';
}

/** A metric value for display: rates as percentages, money in yuan, counts with grouping. */
export function formatMetric(metric: string, value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  if (RATES.has(metric)) return new Intl.NumberFormat(locale(), { style: 'percent', maximumFractionDigits: 1 }).format(value);
  if (MONEY.has(metric)) return new Intl.NumberFormat(locale(), { style: 'currency', currency: 'CNY', maximumFractionDigits: 2 }).format(value);
  return new Intl.NumberFormat(locale(), { maximumFractionDigits: 1 }).format(value);
}

export function formatCount(value: number): string {
  return new Intl.NumberFormat(locale()).format(value);
}

export function formatPercent(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return new Intl.NumberFormat(locale(), { style: 'percent', maximumFractionDigits: 1 }).format(value);
}

/** Period-over-period change, signed: "+12.5%", "−3%". */
export function formatChange(change: number): string {
  const pct = new Intl.NumberFormat(locale(), { style: 'percent', maximumFractionDigits: 1, signDisplay: 'exceptZero' });
  return pct.format(change);
}

/** An instant shown in the workspace time zone. */
export function formatInstant(iso: string, timeZone: string, withDate = true): string {
  const opts: Intl.DateTimeFormatOptions = withDate
    ? { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false }
    : { timeZone, hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false };
  return new Intl.DateTimeFormat(locale(), opts).format(new Date(iso));
}
