import { AppError, ErrorClass } from '../../../platform/errors';
import { windowHours, type CompareOp, type Expr, type Literal, type Value, type Window } from './ast';
import { ORDER_EVENT } from './vocabulary';

export interface CompileOptions {
  /** Alias of the `profiles` row in the caller's query, e.g. `p`. */
  profileAlias: string;
  /** The placeholder holding the workspace id, e.g. `$1`; the event and tag subqueries filter on it. */
  workspaceParam: string;
  /** The placeholder holding the evaluation time (a timestamptz), e.g. `$2`. */
  nowParam: string;
  /** The table of current tags (`workspace_id, profile_id, tag_key`); default `profile_tags`. */
  tagTable?: string;
  /** Segment definitions (`workspace_id, id, key`) and memberships (`workspace_id, segment_id, profile_id`) for `in_segment`. */
  segmentTables?: { segments: string; members: string };
  /** Per-person experiment exposures (`workspace_id, experiment_key, profile_id, variant_key, contaminated`) for `variant`; default `experiment_exposures`. */
  exposureTable?: string;
  /** Per-person membership (`workspace_id, profile_id, points, level`) for `points` and `level`; default `profile_membership`. */
  membershipTable?: string;
}

/**
 * One value in SQL, split by runtime type so comparisons follow the in-memory rules: each part is
 * NULL unless the value has that type; `isNull` is never NULL.
 */
interface SqlValue {
  num?: string;
  str?: string;
  bool?: string;
  channels?: string;
  isNull: string;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
const TABLE = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/;
const PARAM = /^\$[1-9][0-9]*$/;
const SQL_OP: Record<CompareOp, string> = { '==': '=', '!=': '<>', '>': '>', '>=': '>=', '<': '<', '<=': '<=' };
/** Same pattern as `NUMERIC_STRING` in evaluate.ts. */
const NUMERIC_STRING_SQL = `'^-?[0-9]+(\\.[0-9]+)?$'`;
const DAYS_COLUMN = { last_seen_days: 'last_seen_at', first_seen_days: 'first_seen_at', last_order_days: 'last_order_at' } as const;

function invalidOption(what: string, value: string): AppError {
  return new AppError(ErrorClass.INTERNAL_SERVER_ERROR, 'EXPRESSION_COMPILE_OPTIONS', `compileToSql: invalid ${what} ${JSON.stringify(value)}`);
}

/** A JSON value (event property) as numeric when it is a number or a plain decimal string, else NULL. */
function numericJson(j: string): string {
  return `CASE WHEN jsonb_typeof(${j}) = 'number' THEN (${j})::numeric WHEN jsonb_typeof(${j}) = 'string' AND (${j} #>> '{}') ~ ${NUMERIC_STRING_SQL} THEN (${j} #>> '{}')::numeric END`;
}

class Compiler {
  private readonly p: string;
  private readonly ws: string;
  readonly now: string;
  private readonly tags: string;
  private readonly segs: { segments: string; members: string };
  private readonly exposures: string;
  private readonly membership: string;
  private readonly seen = new Map<string, string>();

  constructor(
    opts: CompileOptions,
    private readonly params: unknown[],
  ) {
    if (!IDENT.test(opts.profileAlias) || ['e', 'pt', 'sm', 'sg', 'xe', 'pm'].includes(opts.profileAlias)) throw invalidOption('profileAlias', opts.profileAlias);
    if (!PARAM.test(opts.workspaceParam)) throw invalidOption('workspaceParam', opts.workspaceParam);
    if (!PARAM.test(opts.nowParam)) throw invalidOption('nowParam', opts.nowParam);
    const tags = opts.tagTable ?? 'profile_tags';
    if (!TABLE.test(tags)) throw invalidOption('tagTable', tags);
    this.p = opts.profileAlias;
    this.ws = opts.workspaceParam;
    this.now = `${opts.nowParam}::timestamptz`;
    this.tags = tags;
    this.segs = opts.segmentTables ?? { segments: 'segments', members: 'segment_members' };
    if (!TABLE.test(this.segs.segments)) throw invalidOption('segmentTables.segments', this.segs.segments);
    if (!TABLE.test(this.segs.members)) throw invalidOption('segmentTables.members', this.segs.members);
    this.exposures = opts.exposureTable ?? 'experiment_exposures';
    if (!TABLE.test(this.exposures)) throw invalidOption('exposureTable', this.exposures);
    this.membership = opts.membershipTable ?? 'profile_membership';
    if (!TABLE.test(this.membership)) throw invalidOption('membershipTable', this.membership);
  }

  /** Pushes a value as a placeholder with a cast; the same value and cast reuse one placeholder. */
  private param(value: unknown, cast: string): string {
    const key = `${cast}:${JSON.stringify(value)}`;
    let ph = this.seen.get(key);
    if (!ph) {
      this.params.push(value);
      ph = `$${this.params.length}::${cast}`;
      this.seen.set(key, ph);
    }
    return ph;
  }

  /** A correlated subquery over the profile's events; `value` (if given) is exposed as `x.v`. */
  private events(select: string, conds: { event?: string | null; within?: Window | null }, value?: string): string {
    const from = value ? `events e CROSS JOIN LATERAL (SELECT ${value} AS v) x` : 'events e';
    const where = [`e.workspace_id = ${this.ws}`, `e.profile_id = ${this.p}.id`];
    if (conds.event != null) where.push(`e.name = ${this.param(conds.event, 'text')}`);
    if (conds.within) where.push(`e.ts >= ${this.now} - make_interval(hours => ${this.param(windowHours(conds.within), 'int')})`);
    return `(SELECT ${select} FROM ${from} WHERE ${where.join(' AND ')})`;
  }

  private literal(l: Literal): SqlValue {
    switch (l.kind) {
      case 'number':
        return { num: this.param(l.text, 'numeric'), isNull: 'false' };
      case 'string':
        return { str: this.param(l.value, 'text'), isNull: 'false' };
      case 'boolean':
        return { bool: this.param(l.value, 'boolean'), isNull: 'false' };
      case 'null':
        return { isNull: 'true' };
    }
  }

  private value(v: Value): SqlValue {
    const p = this.p;
    switch (v.kind) {
      case 'number':
      case 'string':
      case 'boolean':
      case 'null':
        return this.literal(v);
      case 'profile':
        return { num: `${p}.${v.name}`, isNull: 'false' };
      case 'days_since': {
        const col = `${p}.${DAYS_COLUMN[v.name]}`;
        return { num: `floor(extract(epoch from (${this.now} - ${col})) / 86400)`, isNull: `(${col} IS NULL)` };
      }
      case 'channel':
        return { channels: `${p}.channels`, isNull: 'false' };
      case 'trait': {
        const j = `(${p}.traits -> ${this.param(v.name, 'text')} -> 'value')`;
        return {
          num: `CASE WHEN jsonb_typeof(${j}) = 'number' THEN (${j})::numeric END`,
          str: `CASE WHEN jsonb_typeof(${j}) = 'string' THEN ${j} #>> '{}' END`,
          bool: `CASE WHEN jsonb_typeof(${j}) = 'boolean' THEN (${j})::boolean END`,
          isNull: `(coalesce(jsonb_typeof(${j}), 'null') = 'null')`,
        };
      }
      case 'window': {
        const within: Window = { amount: v.days, unit: 'd' };
        if (v.measure === 'events') return { num: this.events('count(*)', { within }), isNull: 'false' };
        if (v.measure === 'orders') return { num: this.events('count(*)', { event: ORDER_EVENT, within }), isNull: 'false' };
        // Revenue, or total when revenue is absent or JSON null (as ingest reads an order).
        const revenue = `coalesce(nullif(e.properties -> 'revenue', 'null'::jsonb), e.properties -> 'total')`;
        return { num: this.events(`coalesce(sum(${numericJson('x.v')}), 0)`, { event: ORDER_EVENT, within }, revenue), isNull: 'false' };
      }
      case 'count':
        return { num: this.events('count(*)', v), isNull: 'false' };
      case 'sum':
        return { num: this.events(`coalesce(sum(${numericJson('x.v')}), 0)`, v, `e.properties -> ${this.param(v.property, 'text')}`), isNull: 'false' };
      case 'has_tag':
        return {
          bool: `EXISTS (SELECT 1 FROM ${this.tags} pt WHERE pt.workspace_id = ${this.ws} AND pt.profile_id = ${p}.id AND pt.tag_key = ${this.param(v.key, 'text')})`,
          isNull: 'false',
        };
      case 'in_segment':
        return {
          bool:
            `EXISTS (SELECT 1 FROM ${this.segs.members} sm JOIN ${this.segs.segments} sg ON sg.workspace_id = sm.workspace_id AND sg.id = sm.segment_id ` +
            `WHERE sm.workspace_id = ${this.ws} AND sm.profile_id = ${p}.id AND sg.key = ${this.param(v.key, 'text')})`,
          isNull: 'false',
        };
      case 'variant': {
        // At most one row (the primary key is workspace, experiment, profile); none when never exposed or contaminated.
        const variant =
          `(SELECT xe.variant_key FROM ${this.exposures} xe WHERE xe.workspace_id = ${this.ws} AND xe.profile_id = ${p}.id ` +
          `AND xe.experiment_key = ${this.param(v.experiment, 'text')} AND NOT xe.contaminated)`;
        return { str: variant, isNull: `(${variant} IS NULL)` };
      }
      case 'points':
        return { num: `coalesce((SELECT pm.points FROM ${this.membership} pm WHERE pm.workspace_id = ${this.ws} AND pm.profile_id = ${p}.id), 0)`, isNull: 'false' };
      case 'level': {
        const level = `(SELECT pm.level FROM ${this.membership} pm WHERE pm.workspace_id = ${this.ws} AND pm.profile_id = ${p}.id)`;
        return { str: level, isNull: `(${level} IS NULL)` };
      }
    }
  }

  private compare(op: CompareOp, left: Value, right: Value): string {
    if (left.kind === 'null' || right.kind === 'null') {
      const tests = [left, right].filter((v) => v.kind !== 'null').map((v) => this.value(v).isNull);
      const isNull = tests.length ? tests.join(' AND ') : 'true';
      return op === '==' ? `(${isNull})` : `(NOT (${isNull}))`;
    }
    const a = this.value(left);
    const b = this.value(right);
    if (a.channels || b.channels) {
      const [set, name] = a.channels ? [a.channels, b] : [b.channels!, a];
      const seen = `coalesce(${name.str ?? 'NULL::text'} = ANY(${set}), false)`;
      return op === '==' ? seen : `(NOT ${seen})`;
    }
    const sop = SQL_OP[op];
    const parts: string[] = [];
    if (a.num && b.num) parts.push(`coalesce(${a.num} ${sop} ${b.num}, false)`);
    if (a.str && b.str) parts.push(`coalesce((${a.str}) COLLATE "C" ${sop} (${b.str}), false)`);
    if (a.bool && b.bool && (op === '==' || op === '!=')) parts.push(`coalesce(${a.bool} ${sop} ${b.bool}, false)`);
    return parts.length ? `(${parts.join(' OR ')})` : 'false';
  }

  private within(value: Value, list: Literal[]): string {
    const a = this.value(value);
    if (a.channels) {
      const names = list.flatMap((l) => (l.kind === 'string' ? [l.value] : []));
      return `coalesce(${a.channels} && ${this.param(names, 'text[]')}, false)`;
    }
    const parts: string[] = [];
    const nums = list.flatMap((l) => (l.kind === 'number' ? [l.text] : []));
    const strs = list.flatMap((l) => (l.kind === 'string' ? [l.value] : []));
    const bools = list.flatMap((l) => (l.kind === 'boolean' ? [l.value] : []));
    if (a.num && nums.length) parts.push(`coalesce(${a.num} = ANY(${this.param(nums, 'numeric[]')}), false)`);
    if (a.str && strs.length) parts.push(`coalesce(${a.str} = ANY(${this.param(strs, 'text[]')}), false)`);
    if (a.bool && bools.length) parts.push(`coalesce(${a.bool} = ANY(${this.param(bools, 'boolean[]')}), false)`);
    if (list.some((l) => l.kind === 'null')) parts.push(a.isNull);
    return parts.length ? `(${parts.join(' OR ')})` : 'false';
  }

  private truth(value: Value): string {
    const a = this.value(value);
    const parts: string[] = [];
    if (a.num) parts.push(`coalesce(${a.num} <> 0, false)`);
    if (a.str) parts.push(`coalesce(${a.str} <> '', false)`);
    if (a.bool) parts.push(`coalesce(${a.bool}, false)`);
    return parts.length ? `(${parts.join(' OR ')})` : 'false';
  }

  expr(e: Expr): string {
    switch (e.kind) {
      case 'and':
        return `(${e.args.map((a) => this.expr(a)).join(' AND ')})`;
      case 'or':
        return `(${e.args.map((a) => this.expr(a)).join(' OR ')})`;
      case 'not':
        return `(NOT ${this.expr(e.arg)})`;
      case 'compare':
        return this.compare(e.op, e.left, e.right);
      case 'in':
        return this.within(e.value, e.list);
      case 'truth':
        return this.truth(e.value);
    }
  }
}

/**
 * Compiles an expression to a boolean SQL condition over a `profiles` row (never NULL), pushing
 * every literal into `params` and returning `$n` placeholders. Windowed aggregates, `count`, `sum`,
 * `has_tag`, `in_segment` and `variant` become correlated subqueries on `events` / the tag, segment
 * and experiment exposure tables. `now` is a parameter so the SQL and `evaluate` agree exactly (it is
 * referenced even when the expression does not depend on time, so a caller can always pass it).
 *
 * Usage: `SELECT id FROM profiles p WHERE p.workspace_id = $1 AND <sql>` with params
 * `[workspaceId, now, ...pushed]` and `{ profileAlias: 'p', workspaceParam: '$1', nowParam: '$2' }`.
 */
export function compileToSql(expr: Expr, opts: CompileOptions, params: unknown[]): string {
  const c = new Compiler(opts, params);
  const sql = c.expr(expr);
  // PostgreSQL rejects a parameter it cannot type; callers always pass `now`, so always mention it.
  return sql.includes(c.now) ? sql : `(${c.now} IS NOT NULL AND ${sql})`;
}
