import type { EntityManager } from 'typeorm';
import { LocalDays } from '../../shared/zone';
import { REFERRAL_KINDS } from './kpi.catalogue';
import { GAP_BASE, dayNumber, dayString, parts } from './kpi.windows';

/**
 * Referral measures carried forward (ORGANIC_SHARE, FISSION_COEFFICIENT, REFERRAL_RATE): day sets
 * kept per person from their own relations, instead of joining `relations` to the new people of a
 * range on every read.
 *
 * A person's state (`kpi_person_refs`) is what they put into the day sets:
 * - as a new person (at their acquisition day, in their acquisition dimensions): a REFERRED bit when
 *   someone else invited or referred them, an INVITED bit when someone else invited them, and one
 *   reference to each distinct inviter (`kpi_inviter_days`: per inviter, day and dimension, how
 *   many new people that inviter invited; the day's count of inviters, `kpi_day_counts` kind 8,
 *   counts the rows above 0);
 * - as a referrer: a REFERRER bit on each local day they invited, referred or shared to someone
 *   else, in their own acquisition dimensions, and the gaps between those days (`kpi_day_counts`
 *   kinds 601–694, as kpi.windows.ts keeps them for active days: REFERRAL_RATE over ranges).
 * - per inviter and dimension, the gaps between the acquisition days of the people they invited
 *   (the days with a reference above 0; kinds 701–794: FISSION_COEFFICIENT's inviters over ranges),
 *   rewritten for the inviters whose references a refresh moves.
 *
 * When anything a state depends on changes — a relation of the batch, an acquisition that moved, a
 * merge (relations follow the survivor; links between the two vanish), an unmerge or rebuild — the
 * people concerned are refreshed: their old contribution comes out exactly (own bits, inviter
 * references counted down) and the new one, read from their relations, goes in. The cost is their
 * relations, never the new people or relations of a day.
 *
 * Everyone who sent a referral relation has a row, even before their first event (a pending state:
 * no acquisition, so nothing in the day sets). A refresh then knows who has outgoing relations from
 * the rows alone, and never asks `relations` "did this person send anything" — a question the
 * planner answers with a sequential scan once one account sent most invitations of a workspace.
 */
export const REF_KIND = { referred: 6, invited: 7, inviter: 8, referrer: 9 } as const;

interface RefState {
  /** Ordinal, acquisition day and dimensions (-1, '' and none while pending: no acquisition yet, and every other field empty). */
  o: number;
  d: string;
  m: string[];
  ref: boolean;
  inv: boolean;
  /** Inviters (profile ids). */
  by: string[];
  /** Local days with an outgoing invitation, referral or share. */
  rd: string[];
}

type Bit = [day: string, kind: number, dim: string, ordinal: number];

export interface BitWriter {
  orBits(em: EntityManager, ws: string, rows: Bit[]): Promise<void>;
  clearSome(em: EntityManager, ws: string, rows: Bit[]): Promise<void>;
}

export class KpiRefRepository {
  constructor(private readonly bits: BitWriter) {}

  /**
   * The people whose state a batch's relations (by event message id) change: both ends of each.
   * One index probe per message id, whatever the number of relations: as `event_message_id = ANY(…)`
   * the planner read every relation of the workspace once it held tens of thousands (a seed of
   * 50,000 people: 0.1 ms per batch early, 18 ms by the middle). OFFSET 0 keeps the subquery apart,
   * so the join stays a loop over the batch's ids.
   */
  async touchedBy(em: EntityManager, ws: string, messageIds: string[]): Promise<string[]> {
    if (!messageIds.length) return [];
    const rows: { f: string; t: string }[] = await em.query(
      `SELECT r.f, r.t FROM unnest($2::text[]) AS m(id)
       CROSS JOIN LATERAL (SELECT from_profile_id AS f, to_profile_id AS t FROM relations
                           WHERE workspace_id = $1 AND event_message_id = m.id AND kind = ANY($3::text[]) OFFSET 0) r`,
      [ws, messageIds, REFERRAL_KINDS],
    );
    return [...new Set(rows.flatMap((r) => [r.f, r.t]))];
  }

  /** People invited by some (their inviter ordinal is in their state). */
  async inviteesOf(em: EntityManager, ws: string, ids: string[]): Promise<string[]> {
    if (!ids.length) return [];
    const rows: { t: string }[] = await em.query(
      `SELECT DISTINCT r.t FROM unnest($2::uuid[]) AS u(p)
       CROSS JOIN LATERAL (SELECT to_profile_id AS t FROM relations WHERE workspace_id = $1 AND from_profile_id = u.p AND kind = 'invited' OFFSET 0) r`,
      [ws, ids],
    );
    return rows.map((r) => r.t);
  }

  /**
   * Takes people's contributions out and puts their current ones in (zone `tz`). `read`: people
   * whose relations changed in ways a row cannot know yet (ends of the batch's relations, both
   * sides of a merge, people an unmerge gave relations back to); they are read whatever their row.
   */
  async refresh(em: EntityManager, ws: string, tz: string, ids: string[], read: string[] = []): Promise<void> {
    if (!ids.length && !read.length) return;
    // Only people with a state to take out or a referral relation to read (most new people have
    // neither): a row (every sender of a referral relation has one), an invitation or referral
    // received (one probe each: as EXISTS under OR, the planner hashed every referral relation of
    // the workspace on each call; OFFSET 0 keeps each probe a lookup of its own), or `read`.
    const rows: { p: string; state: RefState | null }[] = await em.query(
      `SELECT u.p, s.state FROM unnest($2::uuid[]) AS u(p)
       LEFT JOIN kpi_person_refs s ON s.workspace_id = $1 AND s.profile_id = u.p
       LEFT JOIN LATERAL (SELECT 1 AS x FROM relations r WHERE r.workspace_id = $1 AND r.to_profile_id = u.p AND r.kind IN ('invited', 'referred') LIMIT 1 OFFSET 0) i ON true
       WHERE s.profile_id IS NOT NULL OR i.x IS NOT NULL OR u.p = ANY($3::uuid[])`,
      [ws, [...new Set([...ids, ...read])], [...new Set(read)]],
    );
    if (!rows.length) return;
    const people = rows.map((r) => r.p);
    const old = new Map<string, RefState>(rows.filter((r) => r.state).map((r) => [r.p, r.state!]));
    const now = await this.states(em, ws, tz, people);
    const clear: Bit[] = [];
    const set: Bit[] = [];
    const refs = new Map<string, { i: string; d: string; m: string; n: number }>();
    const ref = (i: string, d: string, m: string, n: number) => {
      const key = `${i}|${d}|${m}`;
      const r = refs.get(key) ?? { i, d, m, n: 0 };
      r.n += n;
      refs.set(key, r);
    };
    const changed: string[] = [];
    const gaps = new Map<string, number>();
    const gapPart = (s: RefState, sign: 1 | -1) => {
      for (const [key, n] of parts(s.rd.map(dayNumber), GAP_BASE.referring, false)) {
        const [k, d] = key.split('|');
        for (const m of s.m) gaps.set(`${k}|${d}|${m}`, (gaps.get(`${k}|${d}|${m}`) ?? 0) + sign * n);
      }
    };
    for (const p of people) {
      const was = old.get(p);
      const is = now.get(p);
      if (JSON.stringify(was ?? null) === JSON.stringify(is ?? null)) continue;
      changed.push(p);
      if (was) {
        clear.push(...ownBits(was));
        for (const i of was.by) for (const m of was.m) ref(i, was.d, m, -1);
        gapPart(was, -1);
      }
      if (is) {
        set.push(...ownBits(is));
        for (const i of is.by) for (const m of is.m) ref(i, is.d, m, 1);
        gapPart(is, 1);
      }
    }
    if (!changed.length) return;
    const gapRows = [...gaps]
      .filter(([, n]) => n !== 0)
      .map(([key, n]) => {
        const [k, d] = key.split('|', 2);
        return { k: Number(k), d: dayString(Number(d)), m: key.slice(k.length + d.length + 2), n };
      });
    // Own bits: cleared, then set (a bit both cleared and set ends set).
    await this.bits.clearSome(em, ws, clear);
    await this.bits.orBits(em, ws, set);
    // Inviter references; the day's count of inviters changes when a reference count leaves or reaches 0.
    const moved = [...refs.values()].filter((r) => r.n !== 0);
    if (moved.length) {
      // Inviting days' gaps: each touched inviter's days with a reference above 0, before and after.
      const pairs = [...new Map(moved.map((r) => [`${r.i}|${r.m}`, r])).values()];
      const had: { i: string; m: string; d: string; n: number }[] = await em.query(
        `SELECT x.inviter AS i, x.dim AS m, to_char(x.day, 'YYYY-MM-DD') AS d, x.invitees AS n
         FROM jsonb_to_recordset($2::jsonb) AS u(i uuid, m text) JOIN kpi_inviter_days x ON x.workspace_id = $1 AND x.inviter = u.i AND x.dim = u.m`,
        [ws, JSON.stringify(pairs.map((r) => ({ i: r.i, m: r.m })))],
      );
      const counts = new Map<string, Map<string, number>>();
      const of = (i: string, m: string) => {
        const key = `${i}|${m}`;
        let c = counts.get(key);
        if (!c) counts.set(key, (c = new Map()));
        return c;
      };
      for (const r of had) of(r.i, r.m).set(r.d, Number(r.n));
      const inviting = new Map<string, number>();
      const part = (m: string, days: Map<string, number>, sign: 1 | -1) => {
        const list = [...days].filter(([, n]) => n > 0).map(([d]) => dayNumber(d));
        for (const [key, n] of parts(list, GAP_BASE.inviting, false)) inviting.set(`${key}|${m}`, (inviting.get(`${key}|${m}`) ?? 0) + sign * n);
      };
      for (const r of pairs) part(r.m, of(r.i, r.m), -1);
      for (const r of moved) of(r.i, r.m).set(r.d, (of(r.i, r.m).get(r.d) ?? 0) + r.n);
      for (const r of pairs) part(r.m, of(r.i, r.m), 1);
      for (const [key, n] of inviting) {
        if (!n) continue;
        const [k, d] = key.split('|', 2);
        gapRows.push({ k: Number(k), d: dayString(Number(d)), m: key.slice(k.length + d.length + 2), n });
      }
      await em.query(
        `WITH u AS (SELECT * FROM jsonb_to_recordset($2::jsonb) AS u(i uuid, d date, m text, n int)),
         up AS (INSERT INTO kpi_inviter_days AS k (workspace_id, inviter, day, dim, invitees)
                SELECT $1, u.i, u.d, u.m, u.n FROM u
                ON CONFLICT (workspace_id, inviter, day, dim) DO UPDATE SET invitees = k.invitees + EXCLUDED.invitees),
         gain AS (SELECT u.d, u.m, sum(CASE WHEN coalesce(x.invitees, 0) <= 0 AND coalesce(x.invitees, 0) + u.n > 0 THEN 1
                                           WHEN coalesce(x.invitees, 0) > 0 AND coalesce(x.invitees, 0) + u.n <= 0 THEN -1 ELSE 0 END) AS n
                  FROM u LEFT JOIN kpi_inviter_days x ON x.workspace_id = $1 AND x.inviter = u.i AND x.day = u.d AND x.dim = u.m
                  GROUP BY 1, 2)
         INSERT INTO kpi_day_counts AS c (workspace_id, kind, dim, day, people)
         SELECT $1, ${REF_KIND.inviter}, g.m, g.d, g.n FROM gain g WHERE g.n <> 0
         ON CONFLICT (workspace_id, kind, dim, day) DO UPDATE SET people = c.people + EXCLUDED.people`,
        [ws, JSON.stringify(moved)],
      );
    }
    if (gapRows.length) {
      await em.query(
        `INSERT INTO kpi_day_counts AS c (workspace_id, kind, dim, day, people)
         SELECT $1, u.k, u.m, u.d, u.n FROM jsonb_to_recordset($2::jsonb) AS u(k smallint, m text, d date, n int)
         ON CONFLICT (workspace_id, kind, dim, day) DO UPDATE SET people = c.people + EXCLUDED.people`,
        [ws, JSON.stringify(gapRows)],
      );
    }
    const keep = changed.filter((p) => now.has(p));
    const drop = changed.filter((p) => !now.has(p));
    if (drop.length) await em.query(`DELETE FROM kpi_person_refs WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[])`, [ws, drop]);
    if (keep.length) {
      await em.query(
        `INSERT INTO kpi_person_refs AS k (workspace_id, profile_id, state)
         SELECT $1, u.p, u.state FROM jsonb_to_recordset($2::jsonb) AS u(p uuid, state jsonb)
         ON CONFLICT (workspace_id, profile_id) DO UPDATE SET state = EXCLUDED.state`,
        [ws, JSON.stringify(keep.map((p) => ({ p, state: now.get(p) })))],
      );
    }
  }

  /**
   * People's current states, from their acquisition and relations (pending for people without an
   * acquisition who sent a referral relation, none for the others without one). Relations are read
   * per person (a LATERAL probe each, see `touchedBy`).
   */
  private async states(em: EntityManager, ws: string, tz: string, ids: string[]): Promise<Map<string, RefState>> {
    const local = new LocalDays(tz);
    const acq: { p: string; o: number; ts: Date; c: string; t: string }[] = await em.query(
      `SELECT profile_id AS p, ordinal AS o, first_ts AS ts, first_channel AS c, first_touchpoint AS t FROM kpi_profiles WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[])`,
      [ws, ids],
    );
    const incoming: { p: string; kind: string; f: string }[] = await em.query(
      `SELECT r.p, r.kind, r.f FROM unnest($2::uuid[]) AS u(p)
       CROSS JOIN LATERAL (SELECT to_profile_id AS p, kind, from_profile_id AS f FROM relations r
                           WHERE r.workspace_id = $1 AND r.to_profile_id = u.p AND r.kind IN ('invited', 'referred') AND r.from_profile_id <> r.to_profile_id OFFSET 0) r`,
      [ws, acq.map((a) => a.p)],
    );
    const outgoing: { p: string; at: Date }[] = await em.query(
      `SELECT DISTINCT r.p, r.at FROM unnest($2::uuid[]) AS u(p)
       CROSS JOIN LATERAL (SELECT from_profile_id AS p, occurred_at AS at FROM relations r
                           WHERE r.workspace_id = $1 AND r.from_profile_id = u.p AND r.kind = ANY($3::text[]) AND r.from_profile_id <> r.to_profile_id OFFSET 0) r`,
      [ws, ids, REFERRAL_KINDS],
    );
    const out = new Map<string, RefState>();
    const acquired = new Set(acq.map((a) => a.p));
    for (const p of new Set(outgoing.map((r) => r.p))) {
      if (!acquired.has(p)) out.set(p, { o: -1, d: '', m: [], ref: false, inv: false, by: [], rd: [] });
    }
    for (const a of acq) {
      const mine = incoming.filter((r) => r.p === a.p);
      const state: RefState = {
        o: a.o,
        d: local.of(new Date(a.ts).getTime()),
        m: ['', `c:${a.c}`, `t:${a.t}`],
        ref: mine.length > 0,
        inv: mine.some((r) => r.kind === 'invited'),
        by: [...new Set(mine.filter((r) => r.kind === 'invited').map((r) => r.f))].sort(),
        rd: [...new Set(outgoing.filter((r) => r.p === a.p).map((r) => local.of(new Date(r.at).getTime())))].sort(),
      };
      if (state.ref || state.rd.length) out.set(a.p, state);
    }
    return out;
  }
}

function ownBits(s: RefState): Bit[] {
  const out: Bit[] = [];
  for (const m of s.m) {
    if (s.ref) out.push([s.d, REF_KIND.referred, m, s.o]);
    if (s.inv) out.push([s.d, REF_KIND.invited, m, s.o]);
    for (const d of s.rd) out.push([d, REF_KIND.referrer, m, s.o]);
  }
  return out;
}
