import { PostgresQueryRunner } from 'typeorm/driver/postgres/PostgresQueryRunner';

export interface StatementTime {
  statement: string;
  calls: number;
  totalMs: number;
}

/**
 * Times every statement Siyu sends through TypeORM (wall time in this process, including waiting
 * for a pooled connection) while `fn` runs. Diagnostic only: never on during a measured repetition.
 */
export async function traceStatements(fn: () => Promise<void>): Promise<{ wallMs: number; statements: StatementTime[] }> {
  const proto = PostgresQueryRunner.prototype;
  const original = proto.query;
  const byLabel = new Map<string, StatementTime>();
  proto.query = async function (this: PostgresQueryRunner, query: string, parameters?: unknown[], structured?: boolean) {
    const t0 = performance.now();
    try {
      return await original.call(this, query, parameters, structured);
    } finally {
      const label = query.replace(/\s+/g, ' ').trim().slice(0, 90);
      const s = byLabel.get(label) ?? { statement: label, calls: 0, totalMs: 0 };
      s.calls++;
      s.totalMs += performance.now() - t0;
      byLabel.set(label, s);
    }
  } as typeof original;
  const t0 = performance.now();
  try {
    await fn();
  } finally {
    proto.query = original;
  }
  return { wallMs: performance.now() - t0, statements: [...byLabel.values()].sort((a, b) => b.totalMs - a.totalMs) };
}
