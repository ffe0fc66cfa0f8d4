/**
 * The demo data generator: a seeded, reproducible population of people who show up on several
 * channels under overlapping ids, and their events over a window of days. Pure (no I/O, no clock
 * unless no `end` is given): the same options give the same events, in time order, day by day, so
 * `siyu seed`, the `npm start` demo, `siyu simulate` and the benchmark harness share it.
 *
 * What is in it, so every KPI, tag, stage and journey has something to show:
 * - channels: WeChat mini program / official account (openid per app id, unionid once authorised),
 *   WeCom (external_userid per corp, `context.staff`), Douyin (openid, phone once bound),
 *   Xiaohongshu, the app (device_id, anonymous_id before login, member_id + phone after), H5
 *   (anonymous_id, phone from a form), stores (phone, member_id). A person's first events on a
 *   channel carry only that channel's id; later ones add the linking id (unionid, phone, member_id),
 *   so the identity graph links and merges the person's channel profiles as the days pass.
 * - Zipf-distributed activity (a few heavy users, a long tail), diurnal hours, churners, and for
 *   windows longer than 33 days sleepers: silent for more than 30 days, then back (沉默唤醒).
 * - orders (`Order Completed`, `properties.revenue`), NPS answers, interactions, invites
 *   (`Invite Accepted`, `properties.inviter`), group buys (`Group Buy Joined`,
 *   `properties.groupBuyInitiator`), shares (`context.sharedBy`), touchpoints (`context.touchpoint`)
 *   and consent (`Consent Updated`) for most people.
 * - risk signals: complaints after some orders (`Complaint Filed`, with a negative
 *   `properties.sentiment`) and a sentiment score in [-1, 1] on some messages and comments, drawn
 *   from a stream of their own so that adding them changed none of the other events.
 */

import { Rng } from '../shared/random';

export interface DemoIdentifier {
  type: string;
  namespace?: string;
  value: string;
}

/** One event, shaped like the GraphQL `EventInput` (and what `ingest` takes). */
export interface DemoEvent {
  messageId: string;
  type: 'track' | 'identify' | 'page' | 'screen';
  name: string;
  channel: string;
  timestamp: string;
  identifiers: DemoIdentifier[];
  traits?: Record<string, unknown>;
  properties?: Record<string, unknown>;
  context?: Record<string, unknown>;
}

export interface GeneratorOptions {
  /** People in the population (each appears at least once). */
  profiles: number;
  /** Days of history; the window ends at `end`. */
  days: number;
  /** PRNG seed; default 1. */
  seed?: number;
  /** End of the window (exclusive), ms since the epoch or a Date; default now. Events are all before it. */
  end?: number | Date;
  /**
   * Align days with local midnights in this IANA zone (the workspace's): the last day is then
   * "today so far", from local midnight to `end`, and carries a whole day's visits squeezed into the
   * hours elapsed, so a dashboard opened just after midnight still shows today. Without it, days are
   * 24-hour slices ending at `end`.
   */
  timeZone?: string;
}

/** Milliseconds since local midnight at `at` in `timeZone` (wall clock; a DST jump today is ignored). */
export function sinceLocalMidnight(at: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone, hourCycle: 'h23', hour: '2-digit', minute: '2-digit', second: '2-digit' }).formatToParts(new Date(at));
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value ?? 0);
  return ((get('hour') * 60 + get('minute')) * 60 + get('second')) * 1000 + (at % 1000);
}

export const DEFAULT_SEED = 1;
export const MAX_PROFILES = 10_000_000;
export const MAX_DAYS = 3650;

/** The app ids, corp id and open-platform account the demo brand uses. */
export const DEMO_NAMESPACES = {
  miniProgram: 'wx5f0a8c1d2e3b4a01',
  officialAccount: 'wx9c1b7e2f4d6a8b02',
  openPlatform: 'wxopen_siyu_demo',
  corp: 'ww3a1f9e7c5b2d0c03',
  douyinApp: 'awdemo8f2c1e0b',
} as const;

const DAY = 86_400_000;
const INTERACTIONS = ['Message Sent', 'Liked', 'Content Shared', 'Group Joined', 'Comment Posted', 'Coupon Claimed', 'Product Added'] as const;
const STAFF = Array.from({ length: 12 }, (_, i) => `staff_${String(i + 1).padStart(2, '0')}`);
const CITIES = ['上海', '北京', '杭州', '深圳', '广州', '成都', '南京', '武汉', '苏州', '西安'];
const PRODUCTS = ['sku_tea_01', 'sku_tea_02', 'sku_cup_01', 'sku_gift_box', 'sku_snack_03', 'sku_card_100', 'sku_mooncake', 'sku_kettle'];
const PHONE_PREFIXES = ['138', '139', '186', '159', '135', '177', '188', '150'];

type Channel = 'wechat_mp' | 'wechat_oa' | 'wecom' | 'douyin' | 'xiaohongshu' | 'app' | 'web' | 'store';
/** Home-channel shares of the population. */
const HOME: [Channel, number][] = [
  ['wechat_mp', 0.3],
  ['wechat_oa', 0.14],
  ['wecom', 0.14],
  ['douyin', 0.12],
  ['xiaohongshu', 0.07],
  ['app', 0.12],
  ['web', 0.05],
  ['store', 0.06],
];
const TOUCHPOINTS: Record<Channel, string[]> = {
  wechat_mp: ['mp_home', 'live_0918', 'coupon_1111', 'mp_member_day'],
  wechat_oa: ['article_1101', 'oa_menu', 'oa_welcome'],
  wecom: ['qr_store_01', 'qr_store_02', 'staff_card', 'group_vip_01'],
  douyin: ['live_0918', 'short_video_07', 'dy_shop'],
  xiaohongshu: ['note_spring', 'note_review_12'],
  app: ['push_1020', 'app_home', 'app_banner_03'],
  web: ['sem_brand', 'h5_campaign_618'],
  store: ['qr_store_01', 'qr_store_02', 'pos_checkout'],
};
/** Relative weights of the hour of day a session starts at (local time of the brand). */
const HOURS = [1, 0.5, 0.3, 0.2, 0.2, 0.3, 0.8, 1.5, 2.5, 3, 3, 3.5, 4.5, 4, 3, 3, 3.2, 3.5, 4, 5, 6.5, 7, 5.5, 3];
const HOUR_TOTAL = HOURS.reduce((a, b) => a + b, 0);

// Re-exported: `siyu simulate` (src/cli/operator.ts) takes the PRNG from here.
export { Rng };

/** A 32-bit hash of integers (and short strings), for independent streams per person and day. */
export function mix(...parts: (number | string)[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) {
    const s = typeof p === 'number' ? String(p) : p;
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
    h = Math.imul(h ^ 0x7c, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A fixed-width base-36 tag of a hash. */
const tag = (h: number, width: number) => h.toString(36).padStart(width, '0').slice(-width);

/** One person of the population: who they are on which channel, and how they behave. */
export interface DemoPerson {
  index: number;
  /** Day (0-based in the window) of the person's first event. */
  firstDay: number;
  /** From this day on, events carry the linking ids (unionid, phone, member_id). */
  linkDay: number;
  /** Chance of being active on a given day (Zipf over the population). */
  activity: number;
  /** Home channel first. */
  channels: Channel[];
  /**
   * Each other channel: first visited (unlinked: a profile of its own) on `seenDay`, linked to the
   * person (an event carrying both ids, so the identity graph merges the two) from `linkDay` on.
   */
  crossing: { channel: Channel; seenDay: number; linkDay: number }[];
  unionid: boolean;
  phone: string | null;
  memberId: string | null;
  staff: string;
  /** Typical order value, CNY. */
  basket: number;
  /** Chance that a session ends in an order. */
  buys: number;
  /** Last active day for churners. */
  churnDay: number | null;
  /** Silent on days [from, to): a sleeper who wakes up on `to`. */
  silent: { from: number; to: number } | null;
  consent: boolean;
  /** Who invited this person (index), if anyone. */
  inviter: number | null;
  /** Touchpoint of the first visit. */
  acquiredAt: string;
}

export class DemoGenerator {
  readonly profiles: number;
  readonly days: number;
  readonly seed: number;
  /** Window start and end (ms). */
  readonly start: number;
  readonly end: number;
  private readonly people: DemoPerson[] = [];

  constructor(opts: GeneratorOptions) {
    if (!Number.isInteger(opts.profiles) || opts.profiles < 1 || opts.profiles > MAX_PROFILES) throw new RangeError(`profiles must be a whole number from 1 to ${MAX_PROFILES}`);
    if (!Number.isInteger(opts.days) || opts.days < 1 || opts.days > MAX_DAYS) throw new RangeError(`days must be a whole number from 1 to ${MAX_DAYS}`);
    this.profiles = opts.profiles;
    this.days = opts.days;
    this.seed = (opts.seed ?? DEFAULT_SEED) >>> 0;
    const end = opts.end === undefined ? Date.now() : typeof opts.end === 'number' ? opts.end : opts.end.getTime();
    this.end = Math.floor(end / 1000) * 1000;
    // The last day is [start + (days-1)·DAY, end): a whole day, or today so far when aligned.
    const today = opts.timeZone ? this.end - sinceLocalMidnight(this.end, opts.timeZone) : this.end - DAY;
    this.start = today - (this.days - 1) * DAY;
    for (let i = 0; i < this.profiles; i++) this.people.push(this.basePerson(i));
    for (const p of this.people) p.inviter = this.pickEarlier(p, 'inviter', p.firstDay > 0 ? 0.22 : 0);
  }

  person(index: number): DemoPerson {
    return index < this.profiles ? this.people[index] : this.basePerson(index);
  }

  /** The id a person is known by from their first event on (their home channel's id). */
  primaryId(index: number): DemoIdentifier {
    const p = this.person(index);
    return this.channelId(p, p.channels[0], false)[0];
  }

  /** Events of day `d` (0-based), in time order. */
  day(d: number): DemoEvent[] {
    const out: DemoEvent[] = [];
    for (const p of this.people) this.personDay(p, d, out);
    return sortEvents(out);
  }

  /** Every event, day by day, each day in time order. */
  *events(): Generator<DemoEvent> {
    for (let d = 0; d < this.days; d++) yield* this.day(d);
  }

  /** Every event in batches of `size` (the last may be shorter). */
  *batches(size = 500): Generator<DemoEvent[]> {
    let batch: DemoEvent[] = [];
    for (const e of this.events()) {
      batch.push(e);
      if (batch.length >= size) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length) yield batch;
  }

  /** How many events `events()` yields (one generation pass without keeping them). */
  count(): number {
    let n = 0;
    for (let d = 0; d < this.days; d++) {
      const out: DemoEvent[] = [];
      for (const p of this.people) this.personDay(p, d, out);
      n += out.length;
    }
    return n;
  }

  /**
   * One live session of person `index` (an existing person when `index < profiles`, a new one
   * otherwise) ending at `now`: current timestamps, message ids unique to `runId`.
   */
  liveSession(index: number, now: number, runId: string, rng: Rng): DemoEvent[] {
    const fresh = index >= this.profiles;
    const p = fresh ? { ...this.basePerson(index), inviter: rng.chance(0.25) ? rng.int(this.profiles) : null } : this.person(index);
    const out: DemoEvent[] = [];
    const ctx: SessionCtx = { p, d: fresh ? this.days : Math.max(this.days, ...p.crossing.map((x) => x.linkDay), p.linkDay), rng, out, ids: `live-${runId}-${index}-${Math.floor(rng.next() * 1e9).toString(36)}`, n: 0, fresh };
    this.session(ctx, now, fresh);
    // Squeeze the session into the last few seconds: the events are "now".
    const k = out.length;
    out.forEach((e, i) => (e.timestamp = new Date(now - (k - i) * 250).toISOString()));
    return out;
  }

  // ---- people -----------------------------------------------------------------------------

  private basePerson(index: number): DemoPerson {
    const r = new Rng(mix(this.seed, index, 'person'));
    const days = this.days;
    const firstDay = index < this.profiles && r.chance(0.35) ? 0 : r.int(days);
    // Zipf: rank k of 40 classes gets activity ∝ 1/k^0.85.
    const rank = 1 + r.int(40);
    const activity = Math.min(0.85, 0.85 / Math.pow(rank, 0.85));
    let u = r.next();
    let home: Channel = HOME[0][0];
    for (const [c, share] of HOME) {
      if (u < share) {
        home = c;
        break;
      }
      u -= share;
    }
    const channels: Channel[] = [home];
    const extra = r.chance(0.55) ? 1 + r.int(2) : 0;
    for (let k = 0; k < extra; k++) {
      const c = r.pick(HOME)[0];
      if (!channels.includes(c)) channels.push(c);
    }
    const linkDay = firstDay + 1 + r.int(3);
    const crossing = channels.slice(1).map((channel) => {
      const seenDay = firstDay + r.int(4);
      return { channel, seenDay, linkDay: Math.max(linkDay, seenDay + 1) + r.int(6) };
    });
    const wechat = channels.filter((c) => c === 'wechat_mp' || c === 'wechat_oa' || c === 'wecom').length;
    const needsPhone = channels.some((c) => c === 'app' || c === 'store' || c === 'douyin' || c === 'web');
    const phone =
      needsPhone || channels.length > 1 || r.chance(0.5)
        ? `${PHONE_PREFIXES[mix(this.seed, index, 'pp') % PHONE_PREFIXES.length]}${String((this.seed * 1_000_003 + index) % 100_000_000).padStart(8, '0')}`
        : null;
    const member = channels.some((c) => c === 'app' || c === 'store' || c === 'web');
    const sleeper = days > 33 && firstDay === 0 && r.chance(0.1);
    const churner = !sleeper && r.chance(0.25);
    const wake = sleeper ? 33 + r.int(days - 33) : 0;
    return {
      index,
      firstDay,
      linkDay,
      activity: sleeper ? 0.5 : activity,
      channels,
      crossing,
      // One open-platform account: whoever uses two WeChat apps has a unionid.
      unionid: wechat > 1 || (wechat === 1 && r.chance(0.75)),
      phone,
      memberId: member ? `M${this.seed.toString(36)}${String(index).padStart(7, '0')}` : null,
      staff: r.pick(STAFF),
      basket: Math.round(40 + Math.pow(r.next(), 2) * 760),
      buys: 0.04 + r.next() * 0.22,
      churnDay: churner ? firstDay + 1 + r.int(Math.max(1, days - firstDay)) : null,
      silent: sleeper ? { from: 2, to: wake } : null,
      consent: r.chance(0.85),
      inviter: null,
      acquiredAt: r.pick(TOUCHPOINTS[home]),
    };
  }

  /** Another person first seen before `p` (for inviters, sharers, group-buy initiators), or null. */
  private pickEarlier(p: DemoPerson, salt: string, chance: number, r = new Rng(mix(this.seed, p.index, salt))): number | null {
    if (!r.chance(chance) || p.index === 0) return null;
    for (let k = 0; k < 6; k++) {
      const j = r.int(Math.min(p.index, this.profiles));
      if (this.people[j].firstDay < p.firstDay) return j;
    }
    return null;
  }

  // ---- identifiers --------------------------------------------------------------------------

  private value(p: DemoPerson, salt: string, prefix: string, width: number): string {
    return `${prefix}${tag(mix(this.seed, p.index, salt), width)}${p.index.toString(36)}`;
  }

  /** The ids an event of `p` on `channel` carries; `linked` adds the linking ids. */
  private channelId(p: DemoPerson, channel: Channel, linked: boolean, order = false): DemoIdentifier[] {
    const ns = DEMO_NAMESPACES;
    const union = (): DemoIdentifier[] => (linked && p.unionid ? [{ type: 'wechat_unionid', namespace: ns.openPlatform, value: this.value(p, 'un', 'oU', 8) }] : []);
    const phone = (): DemoIdentifier[] => (linked && p.phone ? [{ type: 'phone', value: p.phone }] : []);
    const member = (): DemoIdentifier[] => (linked && p.memberId ? [{ type: 'member_id', value: p.memberId }] : []);
    switch (channel) {
      case 'wechat_mp':
        // The mini program asks for the phone number at checkout.
        return [{ type: 'wechat_openid', namespace: ns.miniProgram, value: this.value(p, 'mp', 'oMp', 7) }, ...union(), ...(order ? phone() : [])];
      case 'wechat_oa':
        return [{ type: 'wechat_openid', namespace: ns.officialAccount, value: this.value(p, 'oa', 'oOa', 7) }, ...union()];
      case 'wecom':
        // Staff note the customer's phone in the contact's remarks.
        return [{ type: 'wecom_external_userid', namespace: ns.corp, value: this.value(p, 'wc', 'wmX', 8) }, ...union(), ...phone()];
      case 'douyin':
        return [{ type: 'douyin_openid', namespace: ns.douyinApp, value: this.value(p, 'dy', '_000', 8) }, ...phone()];
      case 'xiaohongshu':
        // A lead form (留资) gives the phone.
        return [{ type: 'xhs_user_id', value: this.value(p, 'xhs', '5f', 8) }, ...phone()];
      case 'app':
        return [{ type: 'device_id', value: this.value(p, 'dev', 'D-', 10) }, ...(linked ? [...member(), ...phone()] : [{ type: 'anonymous_id', value: this.value(p, 'anon', 'a-', 10) }])];
      case 'web':
        // H5 log-in is by SMS code: member id and phone.
        return [{ type: 'anonymous_id', value: this.value(p, 'web', 'h5-', 10) }, ...member(), ...phone()];
      case 'store':
        return p.phone ? [{ type: 'phone', value: p.phone }, ...member()] : [{ type: 'member_id', value: p.memberId ?? this.value(p, 'mem', 'S', 6) }];
    }
  }

  // ---- events -------------------------------------------------------------------------------

  private activeOn(p: DemoPerson, d: number, r: Rng): number {
    if (d < p.firstDay) return 0;
    if (d === p.firstDay) return r.chance(0.3) ? 2 : 1;
    if (p.silent && d >= p.silent.from && d < p.silent.to) return 0;
    if (p.churnDay !== null && d > p.churnDay) return 0;
    if (p.silent && d >= p.silent.to && d < p.silent.to + 3) return 1 + (r.chance(0.3) ? 1 : 0);
    // Next-day and next-week returns are a little likelier than a random day (retention curves).
    const since = d - p.firstDay;
    const boost = since === 1 ? 0.25 : since === 7 || since === 30 ? 0.12 : 0;
    const weekend = new Date(this.start + d * DAY).getUTCDay() % 6 === 0 ? 1.15 : 1;
    if (!r.chance(Math.min(0.95, p.activity * weekend + boost))) return 0;
    return 1 + (r.chance(p.activity) ? 1 : 0);
  }

  private personDay(p: DemoPerson, d: number, out: DemoEvent[]): void {
    const r = new Rng(mix(this.seed, p.index, d, 'day'));
    const planned = p.crossing.filter((x) => (x.seenDay === d || x.linkDay === d) && d >= p.firstDay);
    const sessions = Math.max(this.activeOn(p, d, r), planned.length + (d === p.firstDay ? 1 : 0));
    if (!sessions) return;
    const dayStart = this.start + d * DAY;
    // A day shorter than 24 h (today so far) takes the whole day's sessions, time squeezed to fit.
    const span = Math.min(DAY, this.end - dayStart);
    const starts: number[] = [];
    for (let s = 0; s < sessions; s++) starts.push(dayStart + Math.floor(((this.hour(r) * 3_600_000 + r.int(3_600_000)) * span) / DAY));
    starts.sort((a, b) => a - b);
    const from = out.length;
    const ctx: SessionCtx = { p, d, rng: r, out, ids: `demo-${this.seed.toString(36)}-${p.index.toString(36)}-${d}`, n: 0, fresh: false };
    for (let s = 0; s < starts.length; s++) {
      // Keep sessions inside the window: the last day ends at `end`.
      const at = Math.max(dayStart, Math.min(starts[s], this.end - Math.min(45 * 60_000, span / 2)));
      const first = d === p.firstDay && s === 0;
      this.session(ctx, at, first, first ? undefined : planned.shift()?.channel);
    }
    for (let k = from; k < out.length; k++) {
      if (Date.parse(out[k].timestamp) >= this.end) out[k].timestamp = new Date(this.end - 1000).toISOString();
    }
  }

  private hour(r: Rng): number {
    let u = r.next() * HOUR_TOTAL;
    for (let h = 0; h < 24; h++) {
      if (u < HOURS[h]) return h;
      u -= HOURS[h];
    }
    return 23;
  }

  /** One visit: a few events minutes apart on one channel. */
  private session(c: SessionCtx, at: number, first: boolean, forced?: Channel): void {
    const { p, rng: r } = c;
    const channel = forced ?? (first || r.chance(0.65) ? p.channels[0] : r.pick(p.channels));
    const linkDay = p.crossing.find((x) => x.channel === channel)?.linkDay ?? p.linkDay;
    const linked = !first && c.d >= linkDay;
    const touchpoint = first ? p.acquiredAt : r.chance(0.4) ? r.pick(TOUCHPOINTS[channel]) : null;
    let t = at;
    // Risk signals' own stream (see the file comment).
    const risk = new Rng(mix(this.seed, p.index, `risk-${c.d}-${c.n}`));
    /** An event; `id` numbers it apart from the session's and takes no time (a risk signal at the session's end). */
    const emit = (type: DemoEvent['type'], name: string, extra: { traits?: Record<string, unknown>; properties?: Record<string, unknown>; context?: Record<string, unknown>; order?: boolean } = {}, id?: string) => {
      const context: Record<string, unknown> = { ...(extra.context ?? {}) };
      if (touchpoint) context.touchpoint = touchpoint;
      if (channel === 'wecom') context.staff = p.staff;
      const e: DemoEvent = {
        messageId: id ?? `${c.ids}-${c.n++}`,
        type,
        name,
        channel,
        timestamp: new Date(t).toISOString(),
        identifiers: this.channelId(p, channel, linked || !!extra.order, extra.order),
      };
      if (extra.traits) e.traits = extra.traits;
      if (extra.properties) e.properties = extra.properties;
      if (Object.keys(context).length) e.context = context;
      c.out.push(e);
      if (id === undefined) t += 15_000 + r.int(150_000);
    };
    const view = (name: string, properties?: Record<string, unknown>) =>
      emit(channel === 'web' ? 'page' : channel === 'app' ? 'screen' : 'track', name, properties ? { properties } : {});

    if (first) {
      const r0 = new Rng(mix(this.seed, p.index, 'traits'));
      emit('identify', 'Identify', {
        traits: { city: r0.pick(CITIES), gender: r0.pick(['female', 'female', 'male', 'unknown']), level: r0.pick(['bronze', 'bronze', 'silver', 'gold']) },
      });
      if (p.consent) {
        const source = `${channel}_privacy_popup`;
        emit('track', 'Consent Updated', { properties: { purpose: 'analytics', state: 'granted', policyVersion: 'v2024.06', source } });
        emit('track', 'Consent Updated', { properties: { purpose: 'marketing', state: r0.chance(0.82) ? 'granted' : 'denied', policyVersion: 'v2024.06', source } });
        if (r0.chance(0.6)) emit('track', 'Consent Updated', { properties: { purpose: 'personalization', state: 'granted', policyVersion: 'v2024.06', source } });
      }
      if (p.inviter !== null) emit('track', 'Invite Accepted', { properties: { inviter: this.primaryId(p.inviter), campaign: 'invite_gift_202411' } });
    } else if (p.consent && r.chance(0.01)) {
      emit('track', 'Consent Updated', { properties: { purpose: 'marketing', state: 'withdrawn', policyVersion: 'v2024.06', source: 'member_center' } });
    }

    const views = 1 + r.int(3);
    for (let k = 0; k < views; k++) view(r.chance(0.7) ? 'Product Viewed' : 'Home Viewed', { productId: r.pick(PRODUCTS) });
    // Someone shared this with them.
    if (!first && !c.fresh && r.chance(0.06)) {
      const from = this.pickEarlier(p, `share-${c.d}-${c.n}`, 1, r);
      if (from !== null) emit('track', 'Content Viewed', { context: { sharedBy: this.primaryId(from) }, properties: { contentId: `article_${r.int(40)}` } });
    }
    if (r.chance(0.45)) {
      const name = channel === 'wecom' ? 'Message Sent' : r.pick(INTERACTIONS);
      const extra = name === 'Content Shared' ? { properties: { contentId: `article_${r.int(40)}`, to: r.pick(['friend', 'moments', 'group']) } } : {};
      // Messages and comments scored by a sentiment model, now and then.
      if ((name === 'Message Sent' || name === 'Comment Posted') && risk.chance(0.4)) Object.assign(extra, { properties: { sentiment: Math.round((risk.next() * 2 - 1) * 100) / 100 } });
      emit('track', name, extra);
    }
    if (r.chance(p.buys)) {
      const groupBuy = r.chance(0.12) ? this.pickEarlier(p, `gb-${c.d}-${c.n}`, 1, r) : null;
      if (groupBuy !== null) emit('track', 'Group Buy Joined', { properties: { groupBuyInitiator: this.primaryId(groupBuy), dealId: `gb_${r.int(20)}` } });
      else if (r.chance(0.3)) emit('track', 'Coupon Claimed', { properties: { couponId: `cp_${r.int(10)}` } });
      const sku = r.pick(PRODUCTS);
      emit('track', 'Product Added', { properties: { productId: sku } });
      emit('track', 'Checkout Started', { properties: { productId: sku } });
      const revenue = Math.max(9.9, Math.round(p.basket * (0.5 + r.next()) * (groupBuy !== null ? 0.7 : 1) * 100) / 100);
      const orderId = `${c.ids}-o${c.n}`;
      emit('track', 'Order Completed', { order: true, properties: { orderId, revenue, currency: 'CNY', items: 1 + r.int(3) } });
      if (r.chance(0.3)) {
        const u = r.next();
        const score = u < 0.45 ? 9 + r.int(2) : u < 0.75 ? 7 + r.int(2) : r.int(7);
        emit('track', 'NPS Submitted', { properties: { score } });
      }
      if (risk.chance(0.08)) {
        const sentiment = -Math.round((0.2 + 0.8 * risk.next()) * 100) / 100;
        emit('track', 'Complaint Filed', { properties: { orderId, reason: risk.pick(['delivery', 'quality', 'service', 'refund']), sentiment } }, `${c.ids}-risk${c.n}`);
      }
    } else if (r.chance(0.15)) {
      emit('track', 'Product Added', { properties: { productId: r.pick(PRODUCTS) } });
    }
  }
}

interface SessionCtx {
  p: DemoPerson;
  d: number;
  rng: Rng;
  out: DemoEvent[];
  /** Message id prefix of the person-day. */
  ids: string;
  n: number;
  /** A person new to the data set (simulate). */
  fresh: boolean;
}

function sortEvents(events: DemoEvent[]): DemoEvent[] {
  return events.sort((a, b) => (a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : a.messageId < b.messageId ? -1 : a.messageId > b.messageId ? 1 : 0));
}
