/**
 * The KPI catalogue (DESIGN §5): every metric, its formula over base measures, and which base
 * measure families it needs. Base measures are exact counts and sums read from the rollups
 * (`kpi_activity`, `kpi_profiles`, relations); metric values are ratios of them computed here, so
 * the formula a BI tool sees in the schema is the one that runs.
 */

export enum KpiMetric {
  NEW_PROFILES = 'NEW_PROFILES',
  GROWTH_RATE = 'GROWTH_RATE',
  ORGANIC_SHARE = 'ORGANIC_SHARE',
  ACTIVE_USERS = 'ACTIVE_USERS',
  DAU = 'DAU',
  WAU = 'WAU',
  MAU = 'MAU',
  DAU_SHARE = 'DAU_SHARE',
  STICKINESS = 'STICKINESS',
  SESSIONS = 'SESSIONS',
  INTERACTION_RATE = 'INTERACTION_RATE',
  RETENTION_D1 = 'RETENTION_D1',
  RETENTION_D7 = 'RETENTION_D7',
  RETENTION_D30 = 'RETENTION_D30',
  CHURN_RATE = 'CHURN_RATE',
  SILENT_WAKEUP_RATE = 'SILENT_WAKEUP_RATE',
  ORDERS = 'ORDERS',
  GMV = 'GMV',
  AOV = 'AOV',
  ARPU = 'ARPU',
  CONVERSION_RATE = 'CONVERSION_RATE',
  FIRST_CONVERSION_RATE = 'FIRST_CONVERSION_RATE',
  REPURCHASE_RATE = 'REPURCHASE_RATE',
  LTV = 'LTV',
  REVENUE_PER_PROFILE = 'REVENUE_PER_PROFILE',
  REFERRAL_RATE = 'REFERRAL_RATE',
  FISSION_COEFFICIENT = 'FISSION_COEFFICIENT',
  NPS = 'NPS',
  COMPLAINT_RATE = 'COMPLAINT_RATE',
  NEGATIVE_SENTIMENT_SHARE = 'NEGATIVE_SENTIMENT_SHARE',
  INGEST_ERROR_RATE = 'INGEST_ERROR_RATE',
}

/** Base measure families: each is one SQL statement over the rollups (see KpiRepository). */
/**
 * Base measure families; a metric names exactly the ones its formula reads, so a tile pays only for
 * its own measures. `ppl` active/interacting/buying people, `tot` orders, GMV and NPS answers, `ses`
 * sessions, `dau`/`wau`/`mau`, `prof` new people, `base` people before/at the end of a bucket,
 * `org` invited and organic new people, `ret*` retention cohorts, `churn`, `wake`, `ord` first
 * orders, `rep` repeat buyers, `cum` cumulative GMV, `ref` referrers, `ing` events received and
 * rejected at ingest (`tot` also holds complaints and sentiment scores: kpi.signals.ts).
 */
export type Family = 'ppl' | 'tot' | 'ses' | 'dau' | 'wau' | 'mau' | 'prof' | 'base' | 'org' | 'inv' | 'ret1' | 'ret7' | 'ret30' | 'churn' | 'wake' | 'ord' | 'rep' | 'cum' | 'ref' | 'ing';

/** Base measures of one bucket and breakdown key; absent measures are 0. */
export type Base = Record<string, number>;

export interface MetricDef {
  /** Chinese label operators use. */
  label: string;
  /** The formula, as documented in the schema. */
  formula: string;
  needs: Family[];
  value(b: Base): number | null;
}

const ratio = (n: number | undefined, d: number | undefined): number | null => (d ? (n ?? 0) / d : null);
const mul = (...xs: (number | null)[]): number | null => (xs.some((x) => x === null) ? null : xs.reduce<number>((a, x) => a * (x as number), 1));

/**
 * Words used in the formulas. *Active*: has at least one event in the bucket (on the breakdown's
 * channel or touchpoint when broken down by CHANNEL or TOUCHPOINT). *New*: the person's first event
 * falls in the bucket (broken down by the channel/touchpoint of that first event). *Profiles at t*:
 * people whose first event is before t. Days are days in the workspace's time zone.
 */
export const CATALOGUE: Record<KpiMetric, MetricDef> = {
  NEW_PROFILES: { label: '新增用户', formula: 'people whose first event falls in the bucket', needs: ['prof'], value: (b) => b.new ?? 0 },
  GROWTH_RATE: { label: '用户增长率', formula: 'NEW_PROFILES ÷ profiles at bucket start', needs: ['prof', 'base'], value: (b) => ratio(b.new, b.before) },
  ORGANIC_SHARE: {
    label: '自然拉新率',
    formula: 'new people with no incoming invited/referred relation ÷ NEW_PROFILES',
    needs: ['prof', 'org'],
    value: (b) => ratio(b.organic, b.new),
  },
  ACTIVE_USERS: { label: '活跃用户', formula: 'distinct active people in the bucket', needs: ['ppl'], value: (b) => b.active ?? 0 },
  DAU: {
    label: '日活',
    formula: 'mean over the days of the bucket of the distinct people active that day (HOUR grain: distinct people active in the hour)',
    needs: ['dau'],
    value: (b) => ratio(b.dauSum, b.days),
  },
  WAU: { label: '周活', formula: 'distinct people active in the 7 days ending at bucket end', needs: ['wau'], value: (b) => b.wau ?? 0 },
  MAU: { label: '月活', formula: 'distinct people active in the 30 days ending at bucket end', needs: ['mau'], value: (b) => b.mau ?? 0 },
  DAU_SHARE: { label: '日活用户占比', formula: 'DAU ÷ profiles at bucket end', needs: ['dau', 'base'], value: (b) => mul(ratio(b.dauSum, b.days), ratio(1, b.atEnd)) },
  STICKINESS: { label: '粘性', formula: 'DAU ÷ MAU', needs: ['dau', 'mau'], value: (b) => mul(ratio(b.dauSum, b.days), ratio(1, b.mau)) },
  SESSIONS: { label: '访问次数', formula: 'distinct (person, channel, clock hour) with activity in the bucket', needs: ['ses'], value: (b) => b.sessions ?? 0 },
  INTERACTION_RATE: {
    label: '互动率',
    formula: 'active people with an interaction event (Message Sent, Liked, Content Shared, Group Joined, Comment Posted, Coupon Claimed, Product Added) ÷ ACTIVE_USERS',
    needs: ['ppl'],
    value: (b) => ratio(b.interacting, b.active),
  },
  RETENTION_D1: {
    label: '次日留存率',
    formula: 'of the people new in the bucket whose first day + 1 has begun, the share active on first day + 1',
    needs: ['ret1'],
    value: (b) => ratio(b.ret1, b.cohort1),
  },
  RETENTION_D7: {
    label: '7日留存率',
    formula: 'of the people new in the bucket whose first day + 7 has begun, the share active on first day + 7',
    needs: ['ret7'],
    value: (b) => ratio(b.ret7, b.cohort7),
  },
  RETENTION_D30: {
    label: '30日留存率',
    formula: 'of the people new in the bucket whose first day + 30 has begun, the share active on first day + 30',
    needs: ['ret30'],
    value: (b) => ratio(b.ret30, b.cohort30),
  },
  CHURN_RATE: {
    label: '流失率',
    formula: 'people active in the previous bucket (same grain, just before) and not active in this one ÷ people active in the previous bucket',
    needs: ['churn'],
    value: (b) => ratio(b.churned, b.prevActive),
  },
  SILENT_WAKEUP_RATE: {
    label: '沉默用户唤醒率',
    formula: 'silent people (active before, not in the 30 days before bucket start) active in the bucket ÷ silent people',
    needs: ['wake'],
    value: (b) => ratio(b.woken, b.silent),
  },
  ORDERS: { label: '订单数', formula: 'Order Completed events in the bucket', needs: ['tot'], value: (b) => b.orders ?? 0 },
  GMV: { label: 'GMV', formula: 'sum of order values (properties.revenue, else properties.total) in the bucket', needs: ['tot'], value: (b) => b.gmv ?? 0 },
  AOV: { label: '客单价', formula: 'GMV ÷ ORDERS', needs: ['tot'], value: (b) => ratio(b.gmv, b.orders) },
  ARPU: { label: 'ARPU', formula: 'GMV ÷ ACTIVE_USERS', needs: ['tot', 'ppl'], value: (b) => ratio(b.gmv, b.active) },
  CONVERSION_RATE: { label: '转化率', formula: 'active people with an order in the bucket ÷ ACTIVE_USERS', needs: ['ppl'], value: (b) => ratio(b.buyers, b.active) },
  FIRST_CONVERSION_RATE: {
    label: '首单转化率',
    formula: 'people whose first order falls in the bucket ÷ active people with no order before the bucket',
    needs: ['ord'],
    value: (b) => ratio(b.firstBuyers, b.convEligible),
  },
  REPURCHASE_RATE: {
    label: '复购率',
    formula: 'buyers in the bucket with at least 2 orders up to bucket end ÷ buyers in the bucket',
    needs: ['rep', 'ppl'],
    value: (b) => ratio(b.repeatBuyers, b.buyers),
  },
  LTV: {
    label: 'LTV',
    formula: 'FIRST_CONVERSION_RATE × REPURCHASE_RATE × AOV',
    needs: ['ord', 'rep', 'ppl', 'tot'],
    value: (b) => mul(ratio(b.firstBuyers, b.convEligible), ratio(b.repeatBuyers, b.buyers), ratio(b.gmv, b.orders)),
  },
  REVENUE_PER_PROFILE: {
    label: '人均累计收入',
    formula: 'GMV of all orders before bucket end ÷ profiles at bucket end (realised revenue per profile)',
    needs: ['cum', 'base'],
    value: (b) => ratio(b.cumGmv, b.atEnd),
  },
  REFERRAL_RATE: {
    label: '推荐率',
    formula: 'distinct people who invited, referred or shared to someone in the bucket ÷ ACTIVE_USERS',
    needs: ['ref', 'ppl'],
    value: (b) => ratio(b.referrers, b.active),
  },
  FISSION_COEFFICIENT: {
    label: '裂变系数',
    formula: 'new people with an incoming invited relation ÷ distinct people who invited them',
    needs: ['org', 'inv'],
    value: (b) => ratio(b.invitedNew, b.inviters),
  },
  NPS: {
    label: 'NPS',
    formula: '100 × (promoters − detractors) ÷ responses, over NPS Submitted events (properties.score 0–10: 9–10 promoter, 0–6 detractor)',
    needs: ['tot'],
    value: (b) => (b.npsResponses ? (100 * ((b.npsPromoters ?? 0) - (b.npsDetractors ?? 0))) / b.npsResponses : null),
  },
  COMPLAINT_RATE: {
    label: '客诉率',
    formula: 'Complaint Filed events in the bucket ÷ ORDERS (null without orders)',
    needs: ['tot'],
    value: (b) => ratio(b.complaints, b.orders),
  },
  NEGATIVE_SENTIMENT_SHARE: {
    label: '负面情绪占比',
    formula:
      'events (any name) whose properties.sentiment is below 0 ÷ events carrying a sentiment score, on the scale −1 (negative) to 1 (positive); a sentiment outside [−1, 1] or not a number is not counted (null when no event has a score)',
    needs: ['tot'],
    value: (b) => ratio(b.sentimentNegative, b.sentimentScored),
  },
  INGEST_ERROR_RATE: {
    label: '接入错误率',
    formula:
      'events rejected at ingest ÷ events received (accepted + rejected; duplicates are neither), by the quarter hour they were received, not their timestamp (null when none were received). Breakdown NONE or CHANNEL (rejected events with an unknown channel count only in the total), filter by channels only',
    needs: ['ing'],
    value: (b) => ratio(b.ingestRejected, b.ingestReceived),
  },
};

/** Track event names counted as interactions (互动) in `kpi_activity.interactions`. */
export const INTERACTION_EVENTS = ['Message Sent', 'Liked', 'Content Shared', 'Group Joined', 'Comment Posted', 'Coupon Claimed', 'Product Added'];

export const NPS_EVENT = 'NPS Submitted';

/** Relation kinds that count a person as a referrer. */
export const REFERRAL_KINDS = ['invited', 'referred', 'shared_to'];

export function familiesOf(metrics: KpiMetric[]): Family[] {
  return [...new Set(metrics.flatMap((m) => CATALOGUE[m].needs))];
}

/**
 * How many local days before an event's own day a bucket of a family can change when the event is
 * added (without merges): 0 for measures of the bucket itself or of windows and running totals that
 * end with it (they only look back); N for retention N days after first day, whose bucket is the
 * cohort's; null for the relation families (`org`, `inv`, `ref`), which a later event can change for any
 * earlier bucket (an invite naming someone new long ago).
 */
export const FAMILY_REACH: Record<Family, number | null> = {
  ppl: 0, tot: 0, ses: 0, dau: 0, wau: 0, mau: 0, prof: 0, base: 0, churn: 0, wake: 0, ord: 0, rep: 0, cum: 0, ing: 0,
  ret1: 1, ret7: 7, ret30: 30,
  org: null, inv: null, ref: null,
};

/** The days back a commit's earliest event can change buckets of these metrics (`FAMILY_REACH`), or null: any bucket. */
export function reachOf(metrics: KpiMetric[]): number | null {
  let reach = 0;
  for (const f of familiesOf(metrics)) {
    const r = FAMILY_REACH[f];
    if (r === null) return null;
    reach = Math.max(reach, r);
  }
  return reach;
}

/**
 * How a metric's values read: `count` (people, orders: whole numbers), `rate` (a fraction, shown as
 * a percentage), `currency` (yuan, ¥ with 2 decimals), `score` (a plain number: NPS, coefficients).
 */
export type MetricUnit = 'count' | 'rate' | 'currency' | 'score';

/** Each metric's unit and English label (the Chinese one is `CATALOGUE[m].label`). */
export const METRIC_DISPLAY: Record<KpiMetric, { unit: MetricUnit; en: string }> = {
  NEW_PROFILES: { unit: 'count', en: 'New profiles' },
  GROWTH_RATE: { unit: 'rate', en: 'Growth rate' },
  ORGANIC_SHARE: { unit: 'rate', en: 'Organic share' },
  ACTIVE_USERS: { unit: 'count', en: 'Active users' },
  DAU: { unit: 'count', en: 'DAU' },
  WAU: { unit: 'count', en: 'WAU' },
  MAU: { unit: 'count', en: 'MAU' },
  DAU_SHARE: { unit: 'rate', en: 'DAU share' },
  STICKINESS: { unit: 'rate', en: 'Stickiness' },
  SESSIONS: { unit: 'count', en: 'Sessions' },
  INTERACTION_RATE: { unit: 'rate', en: 'Interaction rate' },
  RETENTION_D1: { unit: 'rate', en: 'D1 retention' },
  RETENTION_D7: { unit: 'rate', en: 'D7 retention' },
  RETENTION_D30: { unit: 'rate', en: 'D30 retention' },
  CHURN_RATE: { unit: 'rate', en: 'Churn rate' },
  SILENT_WAKEUP_RATE: { unit: 'rate', en: 'Silent wake-up rate' },
  ORDERS: { unit: 'count', en: 'Orders' },
  GMV: { unit: 'currency', en: 'GMV' },
  AOV: { unit: 'currency', en: 'AOV' },
  ARPU: { unit: 'currency', en: 'ARPU' },
  CONVERSION_RATE: { unit: 'rate', en: 'Conversion rate' },
  FIRST_CONVERSION_RATE: { unit: 'rate', en: 'First-order conversion rate' },
  REPURCHASE_RATE: { unit: 'rate', en: 'Repurchase rate' },
  LTV: { unit: 'currency', en: 'LTV' },
  REVENUE_PER_PROFILE: { unit: 'currency', en: 'Revenue per profile' },
  REFERRAL_RATE: { unit: 'rate', en: 'Referral rate' },
  FISSION_COEFFICIENT: { unit: 'score', en: 'Fission coefficient' },
  NPS: { unit: 'score', en: 'NPS' },
  COMPLAINT_RATE: { unit: 'rate', en: 'Complaint rate' },
  NEGATIVE_SENTIMENT_SHARE: { unit: 'rate', en: 'Negative sentiment share' },
  INGEST_ERROR_RATE: { unit: 'rate', en: 'Ingest error rate' },
};
