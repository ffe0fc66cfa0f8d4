import { AsyncLocalStorage } from 'node:async_hooks';
import type { NextFunction, Request, Response } from 'express';
import pg from 'pg';
import type { DataSource, QueryRunner } from 'typeorm';
import { AppError, ErrorClass } from '../errors';

/** The kinds of work a request does, each with its own budget (SIYU_DB_TIMEOUT_*_MS). */
export type DbWorkKind = 'read' | 'write' | 'export';

export type DbBudgets = Readonly<Record<DbWorkKind, number>>;

/** Counts for /metrics: budgets that ended early, and statements refused after that. */
export interface DbBudgetObserver {
  stopped?(kind: DbWorkKind, reason: DbBudgetStop): void;
  refused?(kind: DbWorkKind): void;
}

/** Why a budget ended before its request did. */
export type DbBudgetStop = 'deadline' | 'client_gone';

/** PostgreSQL's query_canceled: statement_timeout, or a cancel request (ours). */
const QUERY_CANCELED = '57014';
const TIMEOUT_SETTING = Symbol('siyu.statementTimeoutMs');

type PgClient = { processID?: number; [TIMEOUT_SETTING]?: number };

/** Statements that end a transaction that failed: never refused, never cancelled. */
const ENDS_TRANSACTION = /^\s*(ROLLBACK|RELEASE SAVEPOINT)\b/i;

/**
 * The database time budget of one request: every statement it runs (on any pooled connection, in
 * or outside a transaction) is bounded, and the request as a whole stops at its deadline or when
 * its client goes away.
 *
 * - PostgreSQL: each statement runs with `statement_timeout` = the kind's budget (set on the
 *   session only when it differs from what that connection has, so a run of reads costs nothing
 *   extra); at the deadline, or when the client disconnects, the statements still running are
 *   cancelled in the database (`pg_cancel_backend` of their backend, sent on a connection of its
 *   own, so an exhausted pool does not delay it), and no further statement starts.
 * - Embedded (PGlite): one in-process session that runs a statement synchronously; it ignores
 *   `statement_timeout` and cannot be interrupted. The budget is checked before every statement
 *   (and after waiting for the connection): a request past its deadline or whose client left runs
 *   no further statement.
 *
 * A statement refused or cancelled this way fails with `TIMEOUT` (HTTP 504).
 */
export class DbBudget {
  readonly startedAt = Date.now();
  private readonly controller = new AbortController();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private finished = false;
  /** The statements running now: how to cancel each, and its cancellation once sent. */
  readonly running = new Set<{ cancel: () => Promise<void>; sent: Promise<void> | null }>();
  private listeners: ((reason: DbBudgetStop) => void)[] = [];

  constructor(
    private kindNow: DbWorkKind,
    private readonly budgets: DbBudgets,
    private readonly observer?: DbBudgetObserver,
  ) {
    const stopped = observer?.stopped;
    if (stopped) this.listeners.push((reason) => stopped(this.kindNow, reason));
    this.arm();
  }

  get kind(): DbWorkKind {
    return this.kindNow;
  }
  get budgetMs(): number {
    return this.budgets[this.kindNow];
  }
  get stopped(): DbBudgetStop | null {
    return this.controller.signal.aborted ? (this.controller.signal.reason as DbBudgetStop) : null;
  }
  /** False once the request answered: work it left behind (after-commit effects) runs without a budget. */
  get active(): boolean {
    return !this.finished;
  }

  /** The request turned out to be another kind of work (a mutation, once parsed): its budget from the start. */
  setKind(kind: DbWorkKind): void {
    if (kind === this.kindNow || this.stopped) return;
    this.kindNow = kind;
    this.arm();
  }

  /** Ends the budget early: no further statement starts, running ones are cancelled. */
  stop(reason: DbBudgetStop): void {
    if (this.finished || this.stopped) return;
    this.clearTimer();
    this.controller.abort(reason);
    for (const r of this.running) r.sent ??= r.cancel();
    for (const l of this.listeners) l(reason);
  }

  /** The request answered. */
  finish(): void {
    this.finished = true;
    this.clearTimer();
  }

  /** Runs `fn` when the budget is stopped (at once when it already is). */
  onStop(fn: (reason: DbBudgetStop) => void): void {
    if (this.stopped) fn(this.stopped);
    else this.listeners.push(fn);
  }

  /** The error for a statement of this budget that was refused or cancelled. */
  refused(): AppError {
    this.observer?.refused?.(this.kindNow);
    return this.error();
  }

  error(): AppError {
    const gone = this.stopped === 'client_gone';
    return new AppError(
      ErrorClass.TIMEOUT,
      gone ? 'CLIENT_GONE' : 'DATABASE_TIME_BUDGET_EXCEEDED',
      gone
        ? 'The client went away; the request was cancelled.'
        : `The request ran out of its database time budget (${this.budgetMs} ms for ${this.kindNow}); narrow it (a shorter range, a smaller page) or retry later.`,
      [],
      { budgetMs: this.budgetMs, kind: this.kindNow },
    );
  }

  private arm(): void {
    this.clearTimer();
    const left = this.startedAt + this.budgetMs - Date.now();
    this.timer = setTimeout(() => this.stop('deadline'), Math.max(0, left));
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

const store = new AsyncLocalStorage<DbBudget | undefined>();

/** The budget of the request this code runs for (none for background work, or once the request answered). */
export function currentDbBudget(): DbBudget | undefined {
  const b = store.getStore();
  return b?.active ? b : undefined;
}

/** Runs `fn` (and everything it starts) under `budget`; `undefined` runs it without one. */
export function withDbBudget<T>(budget: DbBudget | undefined, fn: () => T): T {
  return store.run(budget, fn);
}

/**
 * Work that outlives the request that happened to start it (shared live computations, planner
 * statistics, a group commit of several callers) must not inherit that request's budget.
 */
export function outsideDbBudget<T>(fn: () => T): T {
  return store.run(undefined, fn);
}

/**
 * The budget of work done for several requests at once (one group-commit transaction): stopped
 * only when every one of them is (each client gone or past its deadline), with the latest of their
 * deadlines; none when any of them has none.
 */
export function sharedDbBudget(budgets: (DbBudget | undefined)[]): DbBudget | undefined {
  if (!budgets.length || budgets.some((b) => !b?.active)) return undefined;
  const live = budgets as DbBudget[];
  if (live.length === 1) return live[0];
  const left = Math.max(0, ...live.map((b) => b.startedAt + b.budgetMs - Date.now()));
  const shared = new DbBudget(live[0].kind, { read: left, write: left, export: left });
  let running = live.length;
  for (const b of live) b.onStop((reason) => (--running === 0 ? shared.stop(reason) : undefined));
  return shared;
}

/**
 * Express middleware: the rest of the request (and all it starts) runs under a fresh budget of
 * `kind`; a client that disconnects before the answer stops it.
 */
export function dbBudgetMiddleware(newBudget: (kind: DbWorkKind) => DbBudget, kind: DbWorkKind) {
  return (_req: Request, res: Response, next: NextFunction): void => {
    const budget = newBudget(kind);
    res.once('close', () => {
      if (!res.writableFinished) budget.stop('client_gone');
      budget.finish();
    });
    withDbBudget(budget, next);
  };
}

function queryCanceled(err: unknown): boolean {
  const e = err as { code?: unknown; driverError?: { code?: unknown } } | null;
  return e?.code === QUERY_CANCELED || e?.driverError?.code === QUERY_CANCELED;
}

/**
 * Puts every statement of `dataSource` under the budget of the request it runs for (see
 * `DbBudget`). Statements without a budget (migrations, sweeps, the CLI) run unbounded, as before.
 */
export function installDbBudgets(dataSource: DataSource, kind: 'postgres' | 'embedded', connection?: pg.ClientConfig): void {
  const driver = dataSource.driver as unknown as { createQueryRunner(mode: string): QueryRunner };
  const create = driver.createQueryRunner.bind(driver);
  const cancel = async (client: PgClient): Promise<void> => {
    if (kind !== 'postgres' || !client.processID) return;
    const c = new pg.Client({ ...connection, application_name: 'siyu-cancel' });
    try {
      await c.connect();
      await c.query('SELECT pg_cancel_backend($1)', [client.processID]);
    } catch {
      // The statement_timeout set on the session still ends it.
    } finally {
      await c.end().catch(() => undefined);
    }
  };
  driver.createQueryRunner = (mode: string) => {
    const qr = create(mode);
    const query = qr.query.bind(qr) as (sql: string, parameters?: unknown[], structured?: boolean) => Promise<unknown>;
    /** The session's statement_timeout, set outside transactions only (a rolled-back SET would revert). */
    const ensureTimeout = async (client: PgClient, ms: number) => {
      if (kind !== 'postgres' || client[TIMEOUT_SETTING] === ms) return;
      if (client[TIMEOUT_SETTING] === undefined && ms === 0) return;
      await query(`SET statement_timeout = ${ms}`);
      client[TIMEOUT_SETTING] = ms;
    };
    qr.query = (async (sql: string, parameters?: unknown[], structured?: boolean) => {
      const budget = currentDbBudget();
      const endsTransaction = ENDS_TRANSACTION.test(sql);
      const inTransaction = qr.isTransactionActive && !/^START TRANSACTION/.test(sql);
      if (budget?.stopped && !endsTransaction) throw budget.refused();
      const client = (await qr.connect()) as PgClient;
      if (!budget || endsTransaction) {
        if (!inTransaction) await ensureTimeout(client, 0);
        return query(sql, parameters, structured);
      }
      // Waiting for a pooled connection may have used up the budget.
      if (budget.stopped) throw budget.refused();
      if (!inTransaction) await ensureTimeout(client, budget.budgetMs);
      const running = { cancel: () => cancel(client), sent: null as Promise<void> | null };
      budget.running.add(running);
      try {
        return await query(sql, parameters, structured);
      } catch (err) {
        if (queryCanceled(err)) throw budget.stopped ? budget.error() : timeoutOf(budget);
        throw err;
      } finally {
        // The connection goes back to the pool only after a cancellation sent for it has been
        // handled, so it can never cancel another request's statement.
        budget.running.delete(running);
        if (running.sent) await running.sent;
      }
    }) as QueryRunner['query'];
    return qr;
  };
}

/** A statement ended by the session's statement_timeout (the backstop) before the deadline timer fired. */
function timeoutOf(budget: DbBudget): AppError {
  budget.stop('deadline');
  return budget.error();
}
