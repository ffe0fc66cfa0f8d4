import { openDatabase, type Database } from '../../src/platform/db';
import { compileToSql, evaluate, measureUses, nextTimeChange, parseExpression, requirements, timeTriggers, type Expr, type ProfileFacts, type WindowSource } from '../../src/modules/tags/expression';
import { RuleWindowStore } from '../../src/modules/tags/rule-windows';
import { rng } from '../../src/shared/random';
import { scratchDatabase } from '../support/scratch-db';

/**
 * Property test: for seeded random profiles, events and tags, and seeded random expressions from
 * the grammar, the profiles the compiled SQL selects are exactly those `evaluate` accepts.
 */

const SEED = 20260301;
const PROFILES = 200;
const EXPRESSIONS = 300;
const BATCH = 25;
const DAY = 86_400_000;
const HOUR = 3_600_000;
const now = new Date('2026-03-01T12:00:00.000Z');

const CHANNELS = ['wecom', 'wechat_mp', 'wechat_mini', 'web', 'app'];
const CITIES = ['上海', '北京', '深圳', '杭州', 'Shanghai', 'shanghai', '😀城', 'ＳＨ上海', ''];
const LEVELS: unknown[] = ['gold', 'silver', 1, 2, null, { tier: 1 }, true];
const TAGS = ['vip', '高价值', 'churn_risk', 'new'];
const SEGMENTS = ['high_value', '沉睡客户', 'new_users'];
const EXPERIMENTS = ['hero', '首页改版', 'checkout'];
const VARIANTS = ['A', 'B', 'C', '对照组'];
const EVENT_NAMES = ['Order Completed', 'Order Completed', 'Product Viewed', 'Product Viewed', 'Page Viewed', 'Cart Updated', null];
const WINDOW_DAYS = [1, 3, 7, 14, 30, 60, 90, 120, 365];
const WINDOW_HOURS = [1, 6, 24, 36, 72, 168];
const PROPERTIES = ['revenue', 'total', 'quantity', 'price', 'path', 'sku'];

const r = rng(SEED);
const hex = (n: number) => Array.from({ length: n }, () => r.int(16).toString(16)).join('');
const uuid = () => `${hex(8)}-${hex(4)}-4${hex(3)}-8${hex(3)}-${hex(12)}`;
const pastTs = () => new Date(now.getTime() - r.int(120 * DAY));
/** Mostly random instants, some exactly on a window boundary, a few just after now. */
function eventTs(): Date {
  const x = r.next();
  if (x < 0.1) return new Date(now.getTime() - r.pick(WINDOW_DAYS) * DAY);
  if (x < 0.15) return new Date(now.getTime() - r.pick(WINDOW_HOURS) * HOUR);
  if (x < 0.17) return new Date(now.getTime() + r.int(DAY));
  return pastTs();
}
const money = () => (r.int(50_000) + 1) / 100;

interface GenEvent {
  messageId: string;
  name: string | null;
  ts: Date;
  channel: string;
  properties: Record<string, unknown> | null;
}

function orderProperties(): Record<string, unknown> | null {
  const x = r.next();
  if (x < 0.4) return { revenue: money() };
  if (x < 0.55) return { total: money() };
  if (x < 0.65) return { revenue: null, total: money() };
  if (x < 0.75) return { revenue: money().toFixed(2) };
  if (x < 0.8) return { revenue: 'n/a', total: 5 };
  if (x < 0.85) return { revenue: r.next() * 100 };
  if (x < 0.88) return { revenue: ' 12' };
  if (x < 0.94) return null;
  return {};
}

function eventProperties(name: string | null): Record<string, unknown> | null {
  switch (name) {
    case 'Order Completed':
      return orderProperties();
    case 'Product Viewed':
      return { price: money(), sku: `S${r.int(5)}`, ...(r.chance(0.8) ? { quantity: r.pick<unknown>([1, 2, 3, '2', 'three', 0.5, true]) } : {}) };
    case 'Page Viewed':
      return { path: r.pick(['/', '/item', '/cart']) };
    case 'Cart Updated':
      return { quantity: r.int(5), total: r.chance(0.5) ? money() : '7.5' };
    default:
      return null;
  }
}

function makeTraits(): Record<string, { value: unknown; channel: string; at: string }> {
  const t: Record<string, unknown> = {};
  const x = r.next();
  if (x < 0.75) t.city = r.pick(CITIES);
  else if (x < 0.8) t.city = null;
  else if (x < 0.85) t.city = 21;
  if (r.chance(0.5)) t['城市'] = r.pick(CITIES);
  const a = r.next();
  if (a < 0.6) t.age = 18 + r.int(43);
  else if (a < 0.7) t.age = String(18 + r.int(43));
  const v = r.next();
  if (v < 0.5) t.vip = r.chance(0.5);
  else if (v < 0.55) t.vip = 'yes';
  if (r.chance(0.4)) t.score = r.pick([money(), r.next() * 100, 0, -3.25]);
  else if (r.chance(0.1)) t.score = 0.1 + 0.2;
  if (r.chance(0.6)) t.level = r.pick(LEVELS);
  if (r.chance(0.3)) t['first name'] = r.pick(['Li', '李', '']);
  const at = pastTs().toISOString();
  return Object.fromEntries(Object.entries(t).map(([k, value]) => [k, { value, channel: r.pick(CHANNELS), at }]));
}

interface GenProfile {
  id: string;
  totalSpend: string;
  orderCount: number;
  eventCount: number;
  firstSeenAt: Date | null;
  lastSeenAt: Date | null;
  lastOrderAt: Date | null;
  channels: string[];
  traits: Record<string, { value: unknown; channel: string; at: string }>;
  tags: string[];
  segments: string[];
  /** Rows of `experiment_exposures` (contaminated ones have no variant()). */
  exposures: { experiment: string; variant: string; contaminated: boolean }[];
  events: GenEvent[];
}

function makeProfiles(): GenProfile[] {
  return Array.from({ length: PROFILES }, () => {
    const events: GenEvent[] = Array.from({ length: r.int(31) }, () => {
      const name = r.pick(EVENT_NAMES);
      return { messageId: `m-${hex(16)}`, name, ts: eventTs(), channel: r.pick(CHANNELS), properties: eventProperties(name) };
    });
    return {
      id: uuid(),
      totalSpend: r.chance(0.15) ? '0.00' : (r.int(300_000) / 100).toFixed(2),
      orderCount: r.int(11),
      eventCount: r.int(51),
      firstSeenAt: r.chance(0.15) ? null : pastTs(),
      lastSeenAt: r.chance(0.15) ? null : pastTs(),
      lastOrderAt: r.chance(0.3) ? null : pastTs(),
      channels: CHANNELS.filter(() => r.chance(0.35)),
      traits: makeTraits(),
      tags: TAGS.filter(() => r.chance(0.35)),
      segments: SEGMENTS.filter(() => r.chance(0.4)),
      exposures: [],
      events,
    };
  });
}

/** Exposures from their own stream, so the profiles above stay what they were before variant() existed. */
function addExposures(rows: GenProfile[], seed: number): void {
  const x = rng(seed);
  for (const p of rows) {
    p.exposures = EXPERIMENTS.filter(() => x.chance(0.5)).map((experiment) => ({ experiment, variant: x.pick(VARIANTS), contaminated: x.chance(0.2) }));
  }
}

// ---- expressions -------------------------------------------------------------------------------

function kw(word: string): string {
  const x = r.next();
  return x < 0.7 ? word : x < 0.85 ? word.toUpperCase() : word[0].toUpperCase() + word.slice(1);
}
const q = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
const op = (ops = ['==', '!=', '>', '>=', '<', '<=']) => r.pick(ops);

/**
 * The test's own exact sum of event property values (scaled bigints), used only to aim thresholds
 * at values that actually occur, so equality and boundaries get exercised.
 */
const SCALE = 12;
function exactSum(values: unknown[]): string {
  let total = 0n;
  for (const v of values) {
    const t = typeof v === 'number' ? String(v) : typeof v === 'string' ? v : '';
    if (!/^-?[0-9]+(\.[0-9]+)?$/.test(t)) continue;
    const [i, f = ''] = t.replace('-', '').split('.');
    const m = BigInt(i + f.padEnd(SCALE, '0').slice(0, SCALE));
    total += t.startsWith('-') ? -m : m;
  }
  const neg = total < 0n;
  const digits = (neg ? -total : total).toString().padStart(SCALE + 1, '0');
  const frac = digits.slice(-SCALE).replace(/0+$/, '');
  return `${neg ? '-' : ''}${digits.slice(0, -SCALE)}${frac ? `.${frac}` : ''}`;
}

function makeAtomFactory(profiles: GenProfile[]) {
  const someone = () => r.pick(profiles);
  const since = (hours: number | null) => (hours === null ? -Infinity : now.getTime() - hours * HOUR);
  const eventsOf = (p: GenProfile, name: string | null, hours: number | null) =>
    p.events.filter((e) => (name === null || e.name === name) && e.ts.getTime() >= since(hours));
  const prop = (e: GenEvent, k: string) => (e.properties && Object.prototype.hasOwnProperty.call(e.properties, k) ? e.properties[k] : undefined);

  const traitValues = (name: string) => profiles.flatMap((p) => (p.traits[name] ? [p.traits[name].value] : []));
  const lit = (v: unknown): string => (v === null ? kw('null') : typeof v === 'string' ? q(v) : typeof v === 'boolean' ? kw(String(v)) : typeof v === 'number' ? String(v) : '"?"');
  const scalarTrait = (name: string) => {
    const vs = traitValues(name).filter((v) => v === null || typeof v !== 'object');
    return vs.length ? r.pick(vs) : 'x';
  };
  const traitRef = () => {
    const name = r.pick(['city', '城市', 'age', 'vip', 'score', 'level', 'first name', 'missing']);
    return { name, ref: /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && r.chance(0.8) ? `traits.${name}` : `traits.${q(name)}` };
  };
  const window = (): { text: string; hours: number } => {
    if (r.chance(0.6)) {
      const d = r.pick(WINDOW_DAYS);
      return { text: `${d}d`, hours: d * 24 };
    }
    const h = r.pick(WINDOW_HOURS);
    return { text: `${h}h`, hours: h };
  };
  const daysSince = (ts: Date | null) => (ts ? String(Math.floor((now.getTime() - ts.getTime()) / DAY)) : String(r.int(121)));
  const spendOf = (p: GenProfile, days: number) => exactSum(eventsOf(p, 'Order Completed', days * 24).map((e) => prop(e, 'revenue') ?? prop(e, 'total')));

  const countCall = () => {
    const event = r.chance(0.8) ? r.pick(['Order Completed', 'Product Viewed', 'Page Viewed', 'Cart Updated', 'Nope']) : null;
    const w = r.chance(0.8) ? window() : null;
    const args = [...(event !== null ? [`event = ${q(event)}`] : []), ...(w ? [`within = ${q(w.text)}`] : [])];
    const text = `count(${r.chance(0.5) ? args.join(', ') : args.reverse().join(', ')})`;
    return { text, actual: String(eventsOf(someone(), event, w?.hours ?? null).length) };
  };
  const sumCall = () => {
    const property = r.pick(PROPERTIES);
    const event = r.chance(0.6) ? r.pick(['Order Completed', 'Product Viewed', 'Cart Updated']) : null;
    const w = r.chance(0.7) ? window() : null;
    const args = [`property = ${q(property)}`, ...(event !== null ? [`event = ${q(event)}`] : []), ...(w ? [`within = ${q(w.text)}`] : [])];
    return { text: `sum(${args.join(', ')})`, actual: exactSum(eventsOf(someone(), event, w?.hours ?? null).map((e) => prop(e, property))) };
  };
  const near = (actual: string) => (r.chance(0.75) ? actual : r.pick(['0', '1', '5', '100', '500.5']));

  const atoms: (() => string)[] = [
    () => `total_spend ${op()} ${r.chance(0.7) ? someone().totalSpend : r.pick(['0', '500', '1000.00', '1499.99'])}`,
    () => `${r.pick(['order_count', 'orders'])} ${op()} ${someone().orderCount}`,
    () => `event_count ${op()} ${someone().eventCount}`,
    () => `last_seen_days ${op()} ${daysSince(someone().lastSeenAt)}`,
    () => `first_seen_days ${op()} ${daysSince(someone().firstSeenAt)}`,
    () => `last_order_days ${op()} ${daysSince(someone().lastOrderAt)}`,
    () => `${r.pick(['last_seen_days', 'first_seen_days', 'last_order_days'])} ${r.pick(['==', '!='])} ${kw('null')}`,
    () => `channel ${r.pick(['==', '!='])} ${q(r.pick(CHANNELS))}`,
    () => `channel ${kw('in')} (${CHANNELS.filter(() => r.chance(0.4)).concat(r.pick(CHANNELS)).map(q).join(', ')})`,
    () => {
      const t = traitRef();
      return `${t.ref} ${op()} ${lit(scalarTrait(t.name))}`;
    },
    () => {
      const t = traitRef();
      return `${t.ref} ${r.pick(['==', '!='])} ${lit(scalarTrait(t.name))}`;
    },
    () => {
      const t = traitRef();
      return `${t.ref} ${kw('in')} (${[scalarTrait(t.name), scalarTrait(t.name), r.pick<unknown>([null, 1, 'gold', true])].map(lit).join(', ')})`;
    },
    () => traitRef().ref,
    () => `${traitRef().ref} ${r.pick(['==', '!='])} ${kw('null')}`,
    () => `${traitRef().ref} ${op()} ${traitRef().ref}`,
    () => `traits.score ${op()} ${r.pick(['0', '-3.25', '0.3', '50', String(r.next() * 100)])}`,
    () => {
      const d = r.pick(WINDOW_DAYS);
      return `orders_${d}d ${op()} ${eventsOf(someone(), 'Order Completed', d * 24).length}`;
    },
    () => {
      const d = r.pick(WINDOW_DAYS);
      return `spend_${d}d ${op()} ${near(spendOf(someone(), d))}`;
    },
    () => {
      const d = r.pick(WINDOW_DAYS);
      return `spend_${d}d ${op(['==', '>=', '<='])} ${spendOf(someone(), d)}`;
    },
    () => {
      const d = r.pick(WINDOW_DAYS);
      return `events_${d}d ${op()} ${eventsOf(someone(), null, d * 24).length}`;
    },
    () => `${r.pick(['orders', 'spend', 'events'])}_${r.pick(WINDOW_DAYS)}d`,
    () => {
      const c = countCall();
      return `${c.text} ${op()} ${c.actual}`;
    },
    () => countCall().text,
    () => {
      const c = sumCall();
      return `${c.text} ${op()} ${near(c.actual)}`;
    },
    () => sumCall().text,
    () => `${r.pick(['has_tag', 'tag'])}(${q(r.pick([...TAGS, 'nope']))})`,
    () => `${r.pick(['has_tag', 'tag'])}(${q(r.pick(TAGS))}) ${r.pick(['==', '!='])} ${kw(r.pick(['true', 'false']))}`,
    () => `in_segment(${q(r.pick([...SEGMENTS, 'nope']))})`,
    () => `${kw('variant')}(${q(r.pick([...EXPERIMENTS, 'nope']))}) ${r.pick(['==', '!='])} ${q(r.pick([...VARIANTS, 'b', '']))}`,
    () => `${q(r.pick(VARIANTS))} ${r.pick(['==', '!='])} variant(${q(r.pick(EXPERIMENTS))})`,
    () => `variant(${q(r.pick(EXPERIMENTS))}) ${kw('in')} (${[...VARIANTS.filter(() => r.chance(0.4)), r.pick<string | null>([...VARIANTS, null])].map((v) => (v === null ? kw('null') : q(v))).join(', ')})`,
    () => `variant(experiment = ${q(r.pick([...EXPERIMENTS, 'nope']))}) ${r.pick(['==', '!='])} ${kw('null')}`,
  ];
  return () => r.pick(atoms)();
}

function makeExpression(atom: () => string, depth: number): string {
  const x = r.next();
  if (depth <= 0 || x < 0.35) return atom();
  if (x < 0.6) return Array.from({ length: 2 + r.int(2) }, () => makeExpression(atom, depth - 1)).join(` ${kw('and')} `);
  if (x < 0.8) return Array.from({ length: 2 + r.int(2) }, () => makeExpression(atom, depth - 1)).join(` ${kw('or')} `);
  if (x < 0.9) return `${kw('not')} ${makeExpression(atom, depth - 1)}`;
  return `(${makeExpression(atom, depth - 1)})`;
}

// ---- database ----------------------------------------------------------------------------------

let scratch: Awaited<ReturnType<typeof scratchDatabase>>;
let db: Database;
let workspaceId: string;
let profiles: GenProfile[];

async function insertProfiles(ws: string, rows: GenProfile[]): Promise<void> {
  await db.dataSource.query(
    `INSERT INTO profiles (workspace_id, id, total_spend, order_count, event_count, first_seen_at, last_seen_at, last_order_at, channels, traits)
     SELECT $1, x.id, x.total_spend, x.order_count, x.event_count, x.first_seen_at, x.last_seen_at, x.last_order_at, x.channels, x.traits
     FROM jsonb_to_recordset($2::jsonb) AS x(id uuid, total_spend numeric, order_count int, event_count int, first_seen_at timestamptz,
          last_seen_at timestamptz, last_order_at timestamptz, channels text[], traits jsonb)`,
    [
      ws,
      JSON.stringify(
        rows.map((p) => ({
          id: p.id,
          total_spend: p.totalSpend,
          order_count: p.orderCount,
          event_count: p.eventCount,
          first_seen_at: p.firstSeenAt,
          last_seen_at: p.lastSeenAt,
          last_order_at: p.lastOrderAt,
          channels: p.channels,
          traits: p.traits,
        })),
      ),
    ],
  );
  const events = rows.flatMap((p) => p.events.map((e) => ({ ...e, profileId: p.id })));
  await db.dataSource.query(
    `INSERT INTO events (workspace_id, message_id, type, name, channel, ts, profile_id, origin_profile_id, identifier_keys, properties)
     SELECT $1, x.message_id, CASE WHEN x.name IS NULL THEN 'identify' ELSE 'track' END, x.name, x.channel, x.ts, x.profile_id, x.profile_id, '[]'::jsonb, x.properties
     FROM jsonb_to_recordset($2::jsonb) AS x(message_id text, name text, channel text, ts timestamptz, profile_id uuid, properties jsonb)`,
    [ws, JSON.stringify(events.map((e) => ({ message_id: e.messageId, name: e.name, channel: e.channel, ts: e.ts, profile_id: e.profileId, properties: e.properties })))],
  );
  await db.dataSource.query(
    `INSERT INTO profile_tags (workspace_id, profile_id, tag_key, source)
     SELECT $1, x.profile_id, x.tag_key, 'manual' FROM jsonb_to_recordset($2::jsonb) AS x(profile_id uuid, tag_key text)`,
    [ws, JSON.stringify(rows.flatMap((p) => p.tags.map((t) => ({ profile_id: p.id, tag_key: t }))))],
  );
  await db.dataSource.query(
    `INSERT INTO segments (workspace_id, key, name, expression) SELECT $1, k, k, 'true' FROM unnest($2::text[]) AS k`,
    [ws, SEGMENTS],
  );
  await db.dataSource.query(
    `INSERT INTO segment_members (workspace_id, segment_id, profile_id)
     SELECT $1, s.id, x.profile_id FROM jsonb_to_recordset($2::jsonb) AS x(profile_id uuid, key text)
     JOIN segments s ON s.workspace_id = $1 AND s.key = x.key`,
    [ws, JSON.stringify(rows.flatMap((p) => p.segments.map((k) => ({ profile_id: p.id, key: k }))))],
  );
  await db.dataSource.query(
    `INSERT INTO experiments (workspace_id, key, name, variants, rollout_percent, conversion_event, conversion_window_days)
     SELECT $1, k, k, $3::jsonb, 100, 'Order Completed', 7 FROM unnest($2::text[]) AS k`,
    [ws, EXPERIMENTS, JSON.stringify(VARIANTS.map((v, i) => ({ key: v, name: v, weight: 1, control: i === 0 })))],
  );
  await db.dataSource.query(
    `INSERT INTO experiment_exposures (workspace_id, experiment_key, profile_id, variant_key, first_exposed_at, contaminated)
     SELECT $1, x.experiment, x.profile_id, x.variant, $3, x.contaminated FROM jsonb_to_recordset($2::jsonb) AS x(experiment text, profile_id uuid, variant text, contaminated boolean)`,
    [ws, JSON.stringify(rows.flatMap((p) => p.exposures.map((e) => ({ ...e, profile_id: p.id })))), now],
  );
}

async function loadFacts(ws: string): Promise<Map<string, ProfileFacts>> {
  const facts = new Map<string, ProfileFacts>();
  const rows: {
    id: string;
    total_spend: string;
    order_count: number;
    event_count: number;
    first_seen_at: Date | null;
    last_seen_at: Date | null;
    last_order_at: Date | null;
    channels: string[];
    traits: ProfileFacts['traits'];
  }[] = await db.dataSource.query(
    `SELECT id, total_spend::text AS total_spend, order_count, event_count, first_seen_at, last_seen_at, last_order_at, channels, traits
     FROM profiles WHERE workspace_id = $1`,
    [ws],
  );
  for (const p of rows) {
    facts.set(p.id, {
      totalSpend: Number(p.total_spend),
      orderCount: p.order_count,
      eventCount: p.event_count,
      firstSeenAt: p.first_seen_at,
      lastSeenAt: p.last_seen_at,
      lastOrderAt: p.last_order_at,
      channels: p.channels,
      traits: p.traits,
      tags: new Set(),
      segments: new Set(),
      variants: new Map(),
      events: [],
    });
  }
  const events: { profile_id: string; name: string | null; ts: Date; properties: Record<string, unknown> | null }[] = await db.dataSource.query(
    `SELECT profile_id, name, ts, properties FROM events WHERE workspace_id = $1`,
    [ws],
  );
  for (const e of events) facts.get(e.profile_id)!.events.push({ name: e.name, ts: e.ts, properties: e.properties });
  const tags: { profile_id: string; tag_key: string }[] = await db.dataSource.query(`SELECT profile_id, tag_key FROM profile_tags WHERE workspace_id = $1`, [ws]);
  for (const t of tags) facts.get(t.profile_id)!.tags.add(t.tag_key);
  const members: { profile_id: string; key: string }[] = await db.dataSource.query(
    `SELECT m.profile_id, s.key FROM segment_members m JOIN segments s ON s.workspace_id = m.workspace_id AND s.id = m.segment_id WHERE m.workspace_id = $1`,
    [ws],
  );
  for (const m of members) facts.get(m.profile_id)!.segments!.add(m.key);
  const exposures: { profile_id: string; experiment_key: string; variant_key: string; contaminated: boolean }[] = await db.dataSource.query(
    `SELECT profile_id, experiment_key, variant_key, contaminated FROM experiment_exposures WHERE workspace_id = $1`,
    [ws],
  );
  for (const x of exposures) if (!x.contaminated) facts.get(x.profile_id)!.variants!.set(x.experiment_key, x.variant_key);
  return facts;
}

/** Only what `requirements` says is needed, so a wrong window or tag flag shows up as a mismatch. */
function restrict(f: ProfileFacts, expr: Expr): ProfileFacts {
  const req = requirements(expr);
  const cutoff = typeof req.windowDays === 'number' ? now.getTime() - req.windowDays * DAY : -Infinity;
  return {
    ...f,
    tags: req.usesTags ? f.tags : new Set(),
    segments: req.usesSegments ? f.segments : undefined,
    variants: req.usesVariants ? f.variants : undefined,
    events: req.windowDays === 0 ? [] : f.events.filter((e) => e.ts.getTime() >= cutoff),
  };
}

beforeAll(async () => {
  scratch = await scratchDatabase('tagexpr');
  db = await openDatabase(scratch.config);
  await db.migrate();
  // The tags migration creates profile_tags; this only matters on a branch without it.
  await db.dataSource.query(
    `CREATE TABLE IF NOT EXISTS profile_tags (workspace_id uuid, profile_id uuid, tag_key text, source text, PRIMARY KEY (workspace_id, profile_id, tag_key))`,
  );
  const [ws] = await db.dataSource.query(`INSERT INTO workspaces (name) VALUES ('tag expressions') RETURNING id`);
  workspaceId = ws.id;
  profiles = makeProfiles();
  addExposures(profiles, SEED + 1);
  await insertProfiles(workspaceId, profiles);
  // Another workspace holding the same profile ids with their own events and tags: nothing of it may leak in.
  const [other] = await db.dataSource.query(`INSERT INTO workspaces (name) VALUES ('neighbour') RETURNING id`);
  const twins = profiles.slice(0, 60).map((p) => ({
    ...p,
    tags: TAGS,
    segments: SEGMENTS,
    exposures: EXPERIMENTS.map((experiment) => ({ experiment, variant: 'B', contaminated: false })),
    events: Array.from({ length: 5 }, () => ({ messageId: `n-${hex(16)}`, name: 'Order Completed', ts: new Date(now.getTime() - r.int(DAY)), channel: 'app', properties: { revenue: 999 } })),
  }));
  await insertProfiles(other.id, twins);
});

afterAll(async () => {
  await db?.close();
  await scratch?.drop();
});

describe('tag expressions: compiled SQL agrees with the in-memory evaluator', () => {
  it(`${EXPRESSIONS} seeded random expressions over ${PROFILES} seeded random profiles select the same profiles`, async () => {
    const facts = await loadFacts(workspaceId);
    expect(facts.size).toBe(PROFILES);
    const atom = makeAtomFactory(profiles);
    const sources: string[] = [];
    while (sources.length < EXPRESSIONS) {
      const src = makeExpression(atom, 3);
      try {
        parseExpression(src);
        sources.push(src);
      } catch {
        // too long or too many calls: draw another
      }
    }

    // The per-day buckets ingest keeps, built from the same events, must give every expression the same answer.
    const store = new RuleWindowStore();
    const parsed = sources.map((src) => parseExpression(src));
    const measures = await store.register(db.dataSource.manager, workspaceId, parsed.flatMap((e) => measureUses(e)));
    expect(measures.length).toBeGreaterThan(3);
    await store.rebuild(db.dataSource.manager, workspaceId, [...facts.keys()], measures, now);
    const windows: Map<string, WindowSource> = await store.load(db.dataSource.manager, workspaceId, [...facts.keys()], parsed.flatMap((e) => measureUses(e)), now);
    const bucketMismatches: string[] = [];
    let earlyMoments = 0;

    const mismatches: string[] = [];
    const selected: number[] = [];
    let trueCount = 0;
    let falseCount = 0;
    for (let i = 0; i < sources.length; i += BATCH) {
      const batch = sources.slice(i, i + BATCH).map((src) => ({ src, expr: parseExpression(src) }));
      const params: unknown[] = [workspaceId, now];
      const columns = batch.map((b, k) => `(${compileToSql(b.expr, { profileAlias: 'p', workspaceParam: '$1', nowParam: '$2' }, params)}) AS c${k}`);
      const rows: Record<string, unknown>[] = await db.dataSource.query(`SELECT p.id, ${columns.join(',\n ')} FROM profiles p WHERE p.workspace_id = $1`, params);
      expect(rows).toHaveLength(PROFILES);
      batch.forEach((b, k) => {
        let n = 0;
        for (const row of rows) {
          const sql = row[`c${k}`];
          const mem = evaluate(b.expr, restrict(facts.get(row.id as string)!, b.expr), now);
          if (sql !== mem && mismatches.length < 10) {
            const f = facts.get(row.id as string)!;
            mismatches.push(`${b.src}\n  profile ${row.id}: sql=${String(sql)} memory=${mem}\n  ${JSON.stringify({ ...f, tags: [...f.tags], segments: [...(f.segments ?? [])], variants: [...(f.variants ?? [])] })}`);
          }
          const fromBuckets = evaluate(b.expr, { ...facts.get(row.id as string)!, events: [], windows: windows.get(row.id as string) }, now);
          if (fromBuckets !== mem && bucketMismatches.length < 10) bucketMismatches.push(`${b.src}\n  profile ${row.id}: events=${mem} buckets=${fromBuckets}`);
          // The moment time next changes the rule: from buckets never later than from events, and never in the past.
          if (requirements(b.expr).timeDependent) {
            const f = facts.get(row.id as string)!;
            const exact = nextTimeChange([timeTriggers(b.expr)], f, now);
            const early = nextTimeChange([timeTriggers(b.expr)], { ...f, events: [], windows: windows.get(row.id as string) }, now);
            const late = exact !== null && (early === null || early.getTime() > exact.getTime());
            const past = early !== null && early.getTime() <= now.getTime();
            if ((late || past) && bucketMismatches.length < 10) bucketMismatches.push(`${b.src}\n  profile ${row.id}: next change from events ${exact?.toISOString()} buckets ${early?.toISOString()}`);
            if (exact && early && early.getTime() < exact.getTime()) earlyMoments++;
          }
          if (mem) n++;
          if (mem) trueCount++;
          else falseCount++;
        }
        selected.push(n);
      });

      // The WHERE form the brief describes selects the same ids as the column form.
      const whereParams: unknown[] = [workspaceId, now];
      const where = compileToSql(batch[0].expr, { profileAlias: 'p', workspaceParam: '$1', nowParam: '$2' }, whereParams);
      const ids: { id: string }[] = await db.dataSource.query(`SELECT id FROM profiles p WHERE p.workspace_id = $1 AND (${where})`, whereParams);
      expect(ids.map((x) => x.id).sort()).toEqual(rows.filter((x) => x.c0 === true).map((x) => x.id as string).sort());
    }

    const nonTrivial = selected.filter((n) => n > 0 && n < PROFILES).length;
    const none = selected.filter((n) => n === 0).length;
    const all = selected.filter((n) => n === PROFILES).length;
    console.log(
      `tag expression property test (seed ${SEED}, ${db.kind}): ${sources.length} expressions × ${PROFILES} profiles; ` +
        `true ${trueCount}, false ${falseCount}; expressions selecting some ${nonTrivial}, none ${none}, all ${all}; ` +
        `rule-window buckets: ${measures.length} measures, ${earlyMoments} next-change moments earlier than exact`,
    );
    expect(mismatches).toEqual([]);
    expect(bucketMismatches).toEqual([]);
    expect(nonTrivial).toBeGreaterThanOrEqual(0.2 * sources.length);
  });
});

describe('variant(): SQL and memory agree with a plain reading of the exposures', () => {
  it('selects exactly the people cleanly exposed to that variant (null: unexposed or contaminated)', async () => {
    const facts = await loadFacts(workspaceId);
    const clean = (p: GenProfile, experiment: string) => p.exposures.find((x) => x.experiment === experiment && !x.contaminated)?.variant ?? null;
    expect(profiles.some((p) => p.exposures.some((x) => x.contaminated))).toBe(true);
    let nonTrivial = 0;
    for (const experiment of [...EXPERIMENTS, 'nope']) {
      for (const v of VARIANTS) {
        const e = `variant(${q(experiment)})`;
        const cases: [string, (p: GenProfile) => boolean][] = [
          [`${e} == ${q(v)}`, (p) => clean(p, experiment) === v],
          [`${e} != ${q(v)}`, (p) => clean(p, experiment) !== null && clean(p, experiment) !== v],
          [`not ${e} == ${q(v)}`, (p) => clean(p, experiment) !== v],
          [`${e} in (${q(v)}, "C")`, (p) => clean(p, experiment) === v || clean(p, experiment) === 'C'],
          [`${e} in (${q(v)}, null)`, (p) => clean(p, experiment) === v || clean(p, experiment) === null],
          [`${e} == null`, (p) => clean(p, experiment) === null],
          [`${e} != null`, (p) => clean(p, experiment) !== null],
        ];
        for (const [src, plain] of cases) {
          const expr = parseExpression(src);
          const want = profiles.filter(plain).map((p) => p.id).sort();
          const params: unknown[] = [workspaceId, now];
          const where = compileToSql(expr, { profileAlias: 'p', workspaceParam: '$1', nowParam: '$2' }, params);
          const rows: { id: string }[] = await db.dataSource.query(`SELECT id FROM profiles p WHERE p.workspace_id = $1 AND (${where})`, params);
          expect({ src, sql: rows.map((x) => x.id).sort() }).toEqual({ src, sql: want });
          const mem = [...facts].filter(([, f]) => evaluate(expr, restrict(f, expr), now)).map(([id]) => id).sort();
          expect({ src, mem }).toEqual({ src, mem: want });
          if (want.length > 0 && want.length < PROFILES) nonTrivial++;
        }
      }
    }
    expect(nonTrivial).toBeGreaterThan(50);
  });
});
