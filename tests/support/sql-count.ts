import { PostgresQueryRunner } from 'typeorm/driver/postgres/PostgresQueryRunner';

/**
 * Counts the SQL statements the app sends through TypeORM while `fn` runs (every query runner, so
 * `DataSource.query`, managers and transactions alike). Imitates bench/lib/sql-trace.ts.
 */
export async function countStatements<T>(fn: () => Promise<T>): Promise<{ result: T; statements: string[] }> {
  const proto = PostgresQueryRunner.prototype;
  const original = proto.query;
  const statements: string[] = [];
  proto.query = function (this: PostgresQueryRunner, query: string, parameters?: unknown[], structured?: boolean) {
    // The time budget's bookkeeping (PostgreSQL: sent only when a pooled connection changes kind of
    // work, see src/platform/db/budget.ts) is not a statement of the read being counted.
    if (!/^SET statement_timeout/.test(query)) statements.push(query.replace(/\s+/g, ' ').trim().slice(0, 80));
    return original.call(this, query, parameters, structured);
  } as typeof original;
  try {
    return { result: await fn(), statements };
  } finally {
    proto.query = original;
  }
}
