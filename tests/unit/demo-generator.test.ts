import { DemoGenerator, type DemoEvent } from '../../src/demo/generator';
import { Rng } from '../../src/shared/random';

const END = Date.parse('2026-11-20T04:00:00Z');
const DAY = 86_400_000;

const key = (id: { type: string; namespace?: string; value: string }) => `${id.type}:${id.namespace ?? ''}:${id.value}`;

describe('demo generator', () => {
  it('is deterministic: the same options give the same events; another seed gives others', () => {
    const a = [...new DemoGenerator({ profiles: 150, days: 12, seed: 9, end: END }).events()];
    const b = [...new DemoGenerator({ profiles: 150, days: 12, seed: 9, end: END }).events()];
    const c = [...new DemoGenerator({ profiles: 150, days: 12, seed: 10, end: END }).events()];
    expect(a.length).toBeGreaterThan(500);
    expect(b).toEqual(a);
    expect(c.map((e) => e.messageId)).not.toEqual(a.map((e) => e.messageId));
  });

  it('yields events in time order, inside the window, with unique message ids; batches cover the same stream', () => {
    const gen = new DemoGenerator({ profiles: 120, days: 9, seed: 3, end: END });
    const all = [...gen.events()];
    for (let i = 1; i < all.length; i++) expect(all[i - 1].timestamp <= all[i].timestamp).toBe(true);
    expect(Date.parse(all[0].timestamp)).toBeGreaterThanOrEqual(END - 9 * DAY);
    expect(Date.parse(all[all.length - 1].timestamp)).toBeLessThan(END);
    expect(new Set(all.map((e) => e.messageId)).size).toBe(all.length);
    const batches = [...gen.batches(500)];
    expect(batches.slice(0, -1).every((b) => b.length === 500)).toBe(true);
    expect(batches.flat()).toEqual(all);
    expect(gen.count()).toBe(all.length);
  });

  it('respects --profiles and --days: every person appears, on the days of the window only', () => {
    for (const [profiles, days] of [
      [50, 3],
      [300, 40],
    ]) {
      const gen = new DemoGenerator({ profiles, days, seed: 5, end: END });
      const all = [...gen.events()];
      const people = new Set<number>();
      const byId = new Map<string, number>();
      for (let i = 0; i < profiles; i++) byId.set(key(gen.primaryId(i)), i);
      for (const e of all) for (const id of e.identifiers) if (byId.has(key(id))) people.add(byId.get(key(id))!);
      expect(people.size).toBe(profiles);
      const span = Date.parse(all[all.length - 1].timestamp) - Date.parse(all[0].timestamp);
      expect(span).toBeLessThanOrEqual(days * DAY);
      expect(span).toBeGreaterThan((days - 1.5) * DAY);
    }
  });

  it('makes what every KPI, relation and consent needs', () => {
    const all: DemoEvent[] = [...new DemoGenerator({ profiles: 400, days: 40, seed: 2, end: END }).events()];
    const names = new Set(all.map((e) => e.name));
    for (const name of ['Order Completed', 'Invite Accepted', 'Group Buy Joined', 'NPS Submitted', 'Consent Updated', 'Message Sent', 'Liked', 'Content Shared', 'Group Joined', 'Comment Posted', 'Coupon Claimed', 'Product Added', 'Complaint Filed']) {
      expect(names).toContain(name);
    }
    // Sentiment scores on the scale, some negative (NEGATIVE_SENTIMENT_SHARE).
    const sentiments = all.map((e) => e.properties?.sentiment).filter((v) => v !== undefined);
    expect(sentiments.every((v) => typeof v === 'number' && v >= -1 && v <= 1)).toBe(true);
    expect(sentiments.some((v) => (v as number) < 0)).toBe(true);
    expect(all.some((e) => e.context?.sharedBy)).toBe(true);
    expect(all.some((e) => e.channel === 'wecom' && typeof e.context?.staff === 'string')).toBe(true);
    expect(all.some((e) => typeof e.context?.touchpoint === 'string')).toBe(true);
    const types = new Set(all.flatMap((e) => e.identifiers.map((i) => i.type)));
    for (const t of ['wechat_openid', 'wechat_unionid', 'wecom_external_userid', 'douyin_openid', 'xhs_user_id', 'phone', 'device_id', 'anonymous_id', 'member_id']) expect(types).toContain(t);
    // Two app ids for openids.
    expect(new Set(all.flatMap((e) => e.identifiers.filter((i) => i.type === 'wechat_openid').map((i) => i.namespace))).size).toBe(2);
    for (const e of all.filter((x) => x.name === 'Order Completed')) expect(e.properties?.revenue).toEqual(expect.any(Number));
    for (const e of all.filter((x) => x.name === 'NPS Submitted')) expect(Number.isInteger(e.properties?.score) && (e.properties!.score as number) >= 0 && (e.properties!.score as number) <= 10).toBe(true);
    for (const e of all.filter((x) => x.name === 'Consent Updated')) expect(e.properties).toEqual(expect.objectContaining({ purpose: expect.any(String), state: expect.any(String), policyVersion: expect.any(String) }));
  });

  it('with a time zone, days follow local midnights and today has visits even just after midnight', () => {
    // 00:10 in Shanghai (16:10 UTC): today so far is ten minutes long.
    const end = Date.parse('2026-12-03T16:10:00Z');
    const midnight = Date.parse('2026-12-03T16:00:00Z');
    const gen = new DemoGenerator({ profiles: 300, days: 7, seed: 6, end, timeZone: 'Asia/Shanghai' });
    expect(gen.start).toBe(midnight - 6 * DAY);
    const all = [...gen.events()];
    expect(Date.parse(all[0].timestamp)).toBeGreaterThanOrEqual(gen.start);
    const today = all.filter((e) => Date.parse(e.timestamp) >= midnight);
    expect(today.every((e) => Date.parse(e.timestamp) < end)).toBe(true);
    // A whole day's people, not ten minutes' worth: like yesterday's within a factor of two.
    const people = (events: DemoEvent[]) => new Set(events.map((e) => key(e.identifiers[0]))).size;
    const yesterday = all.filter((e) => Date.parse(e.timestamp) >= midnight - DAY && Date.parse(e.timestamp) < midnight);
    expect(people(today)).toBeGreaterThan(people(yesterday) / 2);
    // Without a zone, the same options give 24-hour days ending at `end`, as before.
    expect(new DemoGenerator({ profiles: 300, days: 7, seed: 6, end }).start).toBe(end - 7 * DAY);
  });

  it('live sessions reuse the seeded people’s identifiers, with current timestamps', () => {
    const gen = new DemoGenerator({ profiles: 100, days: 10, seed: 4, end: END });
    const now = Date.now();
    const session = gen.liveSession(7, now, 'run1', new Rng(1));
    expect(session.length).toBeGreaterThan(0);
    expect(session.some((e) => e.identifiers.some((i) => key(i) === key(gen.primaryId(7))))).toBe(true);
    for (const e of session) expect(Math.abs(Date.parse(e.timestamp) - now)).toBeLessThan(60_000);
  });
});
