import { bootAppPerFile } from '../support/app';
import { oneTrip, type Reader } from '../../src/platform/db/one-trip';

/**
 * `oneTrip`: statements issued together run as one statement against the real database, each
 * getting back its own rows with its own parameters; a statement issued after another's answer
 * runs in a trip of its own.
 */
const t = bootAppPerFile();

function counting(): { reader: Reader; trips: string[] } {
  const trips: string[] = [];
  const em = t.app.db.dataSource.manager;
  return { trips, reader: { query: ((sql: string, params?: unknown[]) => (trips.push(sql), em.query(sql, params))) as Reader['query'] } };
}

describe('oneTrip', () => {
  it('answers statements issued together in one trip, each with its own parameters and rows', async () => {
    const { reader, trips } = counting();
    const db = oneTrip(reader);
    const [a, b, c] = await Promise.all([
      db.query(`SELECT x AS n, $2::text AS tag FROM generate_series(1, $1::int) x`, [3, 'a']),
      db.query(`SELECT $1::int * 10 AS n, $2::text AS tag`, [7, 'b']),
      db.query(`SELECT 1 AS n WHERE $1::boolean`, [false]),
    ]);
    expect(trips).toHaveLength(1);
    expect(trips[0]).toContain('UNION ALL');
    expect(a.map((r: { n: number; tag: string }) => [Number(r.n), r.tag])).toEqual([
      [1, 'a'],
      [2, 'a'],
      [3, 'a'],
    ]);
    expect(b.map((r: { n: number; tag: string }) => [Number(r.n), r.tag])).toEqual([[70, 'b']]);
    expect(c).toEqual([]);
  });

  it('runs a statement that waits for another in a later trip', async () => {
    const { reader, trips } = counting();
    const db = oneTrip(reader);
    const [first] = await db.query(`SELECT $1::int + 1 AS n`, [1]);
    const [second] = await db.query(`SELECT $1::int * 2 AS n`, [Number(first.n)]);
    expect(Number(second.n)).toBe(4);
    expect(trips).toHaveLength(2);
  });

  it('fails every statement of a trip when one of them is wrong', async () => {
    const db = oneTrip(counting().reader);
    const results = await Promise.allSettled([db.query(`SELECT 1 AS n`, []), db.query(`SELECT * FROM no_such_table`, [])]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });
});
