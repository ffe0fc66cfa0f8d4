import { CARRIED_KIND, GAP_BASE, GAP_CAP, WINDOW_KIND, addDay, parts } from '../../src/modules/kpis/kpi.windows';
import { rng } from '../../src/shared/random';

/**
 * A person's part of the carried day counts (src/modules/kpis/kpi.windows.ts), checked against the
 * definitions applied day by day to random sets of active days; and the property that makes merges
 * and batches exact: counts are sums of parts, so pooling two people changes the sum by the pooled
 * part minus theirs.
 */

/** The definitions, for one person with active days `d`, on day e. */
function truth(d: Set<number>, e: number): Record<number, number> {
  const before = [...d].filter((a) => a < e);
  const last = before.length ? Math.max(...before) : null;
  const silent = last !== null && last <= e - 31;
  return {
    [WINDOW_KIND[7]]: [...d].some((a) => a <= e && e < a + 7) ? 1 : 0,
    [WINDOW_KIND[30]]: [...d].some((a) => a <= e && e < a + 30) ? 1 : 0,
    [CARRIED_KIND.both]: d.has(e) && d.has(e - 1) ? 1 : 0,
    [CARRIED_KIND.woken]: d.has(e) && silent ? 1 : 0,
    // Silent people of day e are the running sum of the silence changes.
    [CARRIED_KIND.silence]: silent ? 1 : 0,
  };
}

function check(days: number[]): string[] {
  const d = new Set(days);
  const p = parts(days);
  const wrong: string[] = [];
  let run = 0;
  for (let e = -5; e < 260; e++) {
    const want = truth(d, e);
    run += p.get(`${CARRIED_KIND.silence}|${e}`) ?? 0;
    const got: Record<number, number> = {
      [WINDOW_KIND[7]]: p.get(`${WINDOW_KIND[7]}|${e}`) ?? 0,
      [WINDOW_KIND[30]]: p.get(`${WINDOW_KIND[30]}|${e}`) ?? 0,
      [CARRIED_KIND.both]: p.get(`${CARRIED_KIND.both}|${e}`) ?? 0,
      [CARRIED_KIND.woken]: p.get(`${CARRIED_KIND.woken}|${e}`) ?? 0,
      [CARRIED_KIND.silence]: run,
    };
    for (const k of Object.keys(want)) if (got[Number(k)] !== want[Number(k)]) wrong.push(`days ${days.join(',')} kind ${k} day ${e}: got ${got[Number(k)]}, want ${want[Number(k)]}`);
  }
  return wrong;
}

describe('carried day counts: one person', () => {
  it('equal the definitions day by day for random active days', () => {
    const r = rng(20261204);
    const wrong: string[] = [];
    for (let i = 0; i < 300; i++) {
      const n = r.int(12);
      // Clustered and sparse days: runs of consecutive days, gaps of a month or more.
      const days: number[] = [];
      let at = r.int(40);
      for (let j = 0; j < n; j++) {
        days.push(at);
        at += r.chance(0.4) ? 1 : r.chance(0.5) ? 2 + r.int(10) : 25 + r.int(20);
      }
      wrong.push(...check(days));
    }
    expect(wrong.slice(0, 10)).toEqual([]);
  });

  it('the edges: 30 and 31 days apart, a single day, repeated days', () => {
    expect(check([10, 40])).toEqual([]);
    expect(check([10, 41])).toEqual([]);
    expect(check([10, 42])).toEqual([]);
    expect(check([7])).toEqual([]);
    expect(check([3, 3, 4])).toEqual([]);
    // 41 is 31 days after 10: a wake-up; 40 is not.
    expect(parts([10, 41]).get(`${CARRIED_KIND.woken}|41`)).toBe(1);
    expect(parts([10, 40]).get(`${CARRIED_KIND.woken}|40`)).toBeUndefined();
  });
});

describe('carried day counts: distinct people over a range from the gaps', () => {
  it('Σ over the range\'s days of people whose previous day is before its start equals the people with a day in it', () => {
    const r = rng(93);
    const wrong: string[] = [];
    for (let i = 0; i < 40; i++) {
      // A population: each person's days, and the sum of their gap parts.
      const people = Array.from({ length: 1 + r.int(30) }, () => [...new Set(Array.from({ length: r.int(10) }, () => r.int(200)))]);
      const counts = new Map<string, number>();
      for (const days of people) for (const [key, n] of parts(days, GAP_BASE.buying, false)) counts.set(key, (counts.get(key) ?? 0) + n);
      for (let j = 0; j < 30; j++) {
        const from = r.int(200);
        const to = from + r.int(GAP_CAP);
        let got = 0;
        for (let d = from; d <= to; d++) for (let g = d - from + 1; g <= GAP_CAP + 1; g++) got += counts.get(`${GAP_BASE.buying + g}|${d}`) ?? 0;
        const want = people.filter((days) => days.some((a) => a >= from && a <= to)).length;
        if (got !== want) wrong.push(`[${from}, ${to}]: got ${got}, want ${want}`);
      }
    }
    expect(wrong.slice(0, 10)).toEqual([]);
  });
});

describe('carried day counts: adding a day', () => {
  it.each([
    ['active days', GAP_BASE.active, true],
    ['buying days (gaps only)', GAP_BASE.buying, false],
  ])('changes a person\'s part by exactly parts(after) − parts(before), whatever the neighbours: %s', (_, base, full) => {
    const r = rng(4);
    const wrong: string[] = [];
    for (let i = 0; i < 2000; i++) {
      const days = [...new Set(Array.from({ length: r.int(8) }, () => r.int(150)))].sort((a, b) => a - b);
      const f = r.int(160);
      const before = parts(days, base, full);
      const list = [...days];
      const diff = new Map<string, number>();
      addDay(list, f, (kind, e, n) => diff.set(`${kind}|${e}`, (diff.get(`${kind}|${e}`) ?? 0) + n), base, full);
      expect(list).toEqual([...new Set([...days, f])].sort((a, b) => a - b));
      const after = parts(list, base, full);
      for (const key of new Set([...before.keys(), ...after.keys(), ...diff.keys()])) {
        const want = (after.get(key) ?? 0) - (before.get(key) ?? 0);
        if ((diff.get(key) ?? 0) !== want) wrong.push(`days ${days.join(',')} + ${f}: ${key} got ${diff.get(key) ?? 0}, want ${want}`);
      }
    }
    expect(wrong.slice(0, 10)).toEqual([]);
  });
});
