/** Thresholds of the default segments: workspace settings (`segmentThresholds`), these defaults. */
export interface SegmentThresholds {
  /** 高价值: lifetime spend at least this (CNY)… */
  highValueSpend: number;
  /** …and seen within this many days. */
  highValueActiveDays: number;
  /** 潜力: never ordered, but at least this many events in the last 30 days. */
  potentialEvents30d: number;
  /** 新用户: first seen within this many days. */
  newDays: number;
  /** 流失风险: a buyer not seen for more than this many days (up to `silentDays`). */
  churnRiskDays: number;
  /** 沉默: not seen for more than this many days (up to `churnedDays`). */
  silentDays: number;
  /** 流失: not seen for more than this many days. */
  churnedDays: number;
}

export const DEFAULT_THRESHOLDS: SegmentThresholds = {
  highValueSpend: 2000,
  highValueActiveDays: 90,
  potentialEvents30d: 5,
  newDays: 7,
  churnRiskDays: 14,
  silentDays: 30,
  churnedDays: 90,
};

export interface DefaultSegment {
  key: string;
  name: string;
  description: string;
  expression: string;
}

/** The six default segments (用户分层), as expressions of the thresholds. */
export function defaultSegments(t: SegmentThresholds): DefaultSegment[] {
  return [
    { key: 'high_value', name: '高价值', description: 'High value: big spenders who are still active.', expression: `total_spend >= ${t.highValueSpend} and last_seen_days <= ${t.highValueActiveDays}` },
    { key: 'potential', name: '潜力', description: 'Potential: engaged in the last 30 days but never ordered.', expression: `order_count == 0 and events_30d >= ${t.potentialEvents30d}` },
    { key: 'new', name: '新用户', description: 'New: first seen recently.', expression: `first_seen_days <= ${t.newDays}` },
    { key: 'churn_risk', name: '流失风险', description: 'Churn risk: buyers whose activity stopped recently.', expression: `order_count >= 1 and last_seen_days > ${t.churnRiskDays} and last_seen_days <= ${t.silentDays}` },
    { key: 'silent', name: '沉默', description: 'Silent: no activity for a while.', expression: `last_seen_days > ${t.silentDays} and last_seen_days <= ${t.churnedDays}` },
    { key: 'churned', name: '流失', description: 'Churned: no activity for a long time.', expression: `last_seen_days > ${t.churnedDays}` },
  ];
}

export function describeDefaults(): string {
  return defaultSegments(DEFAULT_THRESHOLDS)
    .map((s) => `- ${s.name} \`${s.key}\`: \`${s.expression}\` — ${s.description}`)
    .join('\n');
}
