import path from 'node:path';
import { z } from 'zod';

const bool = (name: string) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: `${name} must be true or false` })
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

const port = z.coerce
  .number({ message: 'PORT must be a number' })
  .int('PORT must be an integer')
  .min(0, 'PORT must be between 0 and 65535')
  .max(65535, 'PORT must be between 0 and 65535');

const positiveInt = (name: string) =>
  z.coerce.number({ message: `${name} must be a number` }).int(`${name} must be an integer`).positive(`${name} must be positive`);

const nonNegativeInt = (name: string) =>
  z.coerce.number({ message: `${name} must be a number` }).int(`${name} must be an integer`).min(0, `${name} must be 0 or more`);

const postgresUrl = z
  .string()
  .refine((v) => /^postgres(ql)?:\/\//.test(v), { message: 'DATABASE_URL must start with postgres:// or postgresql://' });

const redisUrl = z
  .string()
  .refine((v) => /^rediss?:\/\//.test(v), { message: 'REDIS_URL must start with redis:// or rediss://' });

/** A key given as hex (64+ characters) or base64 that decodes to at least 32 bytes. */
export function decodeKey(v: string): Buffer | null {
  const hex = /^[0-9a-fA-F]+$/.test(v) && v.length % 2 === 0 ? Buffer.from(v, 'hex') : null;
  const buf = hex ?? (/^[A-Za-z0-9+/_-]+={0,2}$/.test(v) ? Buffer.from(v, 'base64') : null);
  return buf && buf.length >= 32 ? buf : null;
}

/** Every environment variable Siyu reads. The README's configuration table mirrors this list. */
const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  PORT: port.default(4000),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATABASE_URL: postgresUrl.optional(),
  DATABASE_POOL_SIZE: positiveInt('DATABASE_POOL_SIZE').default(10),
  DATABASE_CONNECT_TIMEOUT_MS: positiveInt('DATABASE_CONNECT_TIMEOUT_MS').default(5000),
  SIYU_DATA_DIR: z.string().min(1).default('./.siyu/data'),
  SIYU_AUTO_MIGRATE: bool('SIYU_AUTO_MIGRATE').optional(),
  REDIS_URL: redisUrl.optional(),
  SIYU_BOOTSTRAP_ADMIN_KEY: z
    .string()
    .min(24, 'SIYU_BOOTSTRAP_ADMIN_KEY must be at least 24 characters')
    .optional(),
  SIYU_PII_KEY: z
    .string()
    .refine((v) => decodeKey(v) !== null, {
      message: 'SIYU_PII_KEY must be 32+ random bytes, as 64+ hex characters or base64 (e.g. `openssl rand -base64 32`)',
    })
    .optional(),
  SIYU_GRAPHIQL: bool('SIYU_GRAPHIQL').default(true),
  SIYU_BODY_LIMIT_BYTES: positiveInt('SIYU_BODY_LIMIT_BYTES').default(1_048_576),
  SIYU_MAX_QUERY_DEPTH: positiveInt('SIYU_MAX_QUERY_DEPTH').default(12),
  SIYU_MAX_QUERY_COMPLEXITY: positiveInt('SIYU_MAX_QUERY_COMPLEXITY').default(25_000),
  SIYU_RATE_LIMIT_PER_SEC: positiveInt('SIYU_RATE_LIMIT_PER_SEC').default(100),
  SIYU_RATE_LIMIT_BURST: nonNegativeInt('SIYU_RATE_LIMIT_BURST').default(1000),
  SIYU_INGEST_RATE_LIMIT_PER_SEC: positiveInt('SIYU_INGEST_RATE_LIMIT_PER_SEC').default(200),
  SIYU_INGEST_RATE_LIMIT_BURST: nonNegativeInt('SIYU_INGEST_RATE_LIMIT_BURST').default(2000),
  SIYU_WS_MAX_CONNECTIONS_PER_KEY: positiveInt('SIYU_WS_MAX_CONNECTIONS_PER_KEY').default(100),
  SIYU_SHUTDOWN_TIMEOUT_MS: positiveInt('SIYU_SHUTDOWN_TIMEOUT_MS').default(10_000),
  SIYU_SWEEP_INTERVAL_MS: z.coerce
    .number({ message: 'SIYU_SWEEP_INTERVAL_MS must be a number' })
    .int('SIYU_SWEEP_INTERVAL_MS must be an integer')
    .min(0, 'SIYU_SWEEP_INTERVAL_MS must be 0 (off) or more')
    .default(60_000),
  SIYU_SWEEP_BATCH: positiveInt('SIYU_SWEEP_BATCH').default(5000),
  SIYU_DUE_INTERVAL_MS: nonNegativeInt('SIYU_DUE_INTERVAL_MS').default(500),
  SIYU_DELIVERY_INTERVAL_MS: nonNegativeInt('SIYU_DELIVERY_INTERVAL_MS').default(1000),
  SIYU_DELIVERY_BACKOFF_MS: positiveInt('SIYU_DELIVERY_BACKOFF_MS').default(2000),
  SIYU_DELIVERY_BACKOFF_MAX_MS: positiveInt('SIYU_DELIVERY_BACKOFF_MAX_MS').default(3_600_000),
  SIYU_WS_MAX_BUFFERED_BYTES: positiveInt('SIYU_WS_MAX_BUFFERED_BYTES').default(1_048_576),
  SIYU_WS_STALL_TIMEOUT_MS: positiveInt('SIYU_WS_STALL_TIMEOUT_MS').default(30_000),
  SIYU_DB_TIMEOUT_READ_MS: positiveInt('SIYU_DB_TIMEOUT_READ_MS').default(30_000),
  SIYU_DB_TIMEOUT_WRITE_MS: positiveInt('SIYU_DB_TIMEOUT_WRITE_MS').default(60_000),
  SIYU_DB_TIMEOUT_EXPORT_MS: positiveInt('SIYU_DB_TIMEOUT_EXPORT_MS').default(600_000),
  SIYU_DEMO: bool('SIYU_DEMO').default(true),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/** A secret value: prints as [redacted] in logs, JSON and inspection. */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
    Object.freeze(this);
  }
  reveal(): string {
    return this.#value;
  }
  toJSON(): string {
    return '[redacted]';
  }
  toString(): string {
    return '[redacted]';
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return '[redacted]';
  }
}

export type DatabaseConfig =
  | { kind: 'postgres'; url: Secret; poolSize: number; connectTimeoutMs: number; autoMigrate: boolean }
  | { kind: 'embedded'; dataDir: string | ':memory:'; autoMigrate: boolean };

export interface Config {
  readonly env: 'development' | 'test' | 'production';
  readonly port: number;
  readonly host: string;
  readonly database: DatabaseConfig;
  readonly redisUrl?: Secret;
  readonly bootstrapAdminKey?: Secret;
  /** Master key for personal data (phone, e-mail): encryption and keyed-hash matching. */
  readonly piiKey?: Secret;
  readonly graphiql: boolean;
  readonly bodyLimitBytes: number;
  /** Protection limits (README "Limits and reliability"). */
  readonly limits: {
    maxQueryDepth: number;
    maxQueryComplexity: number;
    /** Per API key: requests per second plus extra burst per 10 s, for reads and for ingest. */
    rate: { read: { perSecond: number; burst: number }; ingest: { perSecond: number; burst: number } };
    /** Open WebSocket connections per API key, per instance. */
    wsMaxConnectionsPerKey: number;
  };
  readonly shutdownTimeoutMs: number;
  /** Time-based tag/segment sweep: step interval (0 = off) and profiles per step. */
  readonly sweep: { intervalMs: number; batch: number };
  /** Due scheduler: how often it takes the people whose time-driven moment has come (0 = off); people per projection per pass = sweep batch. */
  readonly dueIntervalMs: number;
  /**
   * Outbound destinations: how often the delivery worker looks for due items (0 = off), and the
   * retry backoff (first delay, doubling per failed attempt with jitter, capped at `backoffMaxMs`).
   */
  readonly delivery: { intervalMs: number; backoffBaseMs: number; backoffMaxMs: number };
  /**
   * Slow-consumer guard of WebSocket connections: a socket whose unsent data exceeds
   * `maxBufferedBytes`, or whose oldest frame stays unsent longer than `stallTimeoutMs`, is closed
   * with 4413.
   */
  readonly ws: { maxBufferedBytes: number; stallTimeoutMs: number };
  /**
   * Database time budget of one request, by kind of work (ms): `read` for GraphQL queries (HTTP and
   * WebSocket, and each execution of a subscription), `write` for mutations and `/v1` ingest,
   * `export` for a segment export. Its statements stop at the deadline or when the client leaves.
   */
  readonly dbTimeoutMs: { read: number; write: number; export: number };
  /** `npm start` on a fresh embedded database seeds a small demo workspace. */
  readonly demo: boolean;
  readonly logLevel: string;
}

export class ConfigError extends Error {
  constructor(readonly issues: { variable: string; message: string }[]) {
    super(
      'Invalid configuration:\n' + issues.map((i) => `  ${i.variable}: ${i.message}`).join('\n'),
    );
    this.name = 'ConfigError';
  }
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !(o instanceof Secret)) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/**
 * Parses and validates the environment once. Empty strings count as unset, so that
 * `FOO= npm start` means "use the default".
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const cleaned: Record<string, string> = {};
  for (const key of Object.keys(envSchema.shape)) {
    const v = env[key];
    if (v !== undefined && v.trim() !== '') cleaned[key] = v.trim();
  }
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => ({ variable: String(i.path[0] ?? '?'), message: i.message })),
    );
  }
  const e = parsed.data;
  const database: DatabaseConfig = e.DATABASE_URL
    ? {
        kind: 'postgres',
        url: new Secret(e.DATABASE_URL),
        poolSize: e.DATABASE_POOL_SIZE,
        connectTimeoutMs: e.DATABASE_CONNECT_TIMEOUT_MS,
        autoMigrate: e.SIYU_AUTO_MIGRATE ?? false,
      }
    : {
        kind: 'embedded',
        dataDir: e.SIYU_DATA_DIR === ':memory:' ? ':memory:' : path.resolve(e.SIYU_DATA_DIR),
        autoMigrate: e.SIYU_AUTO_MIGRATE ?? true,
      };
  return deepFreeze<Config>({
    env: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    database,
    redisUrl: e.REDIS_URL ? new Secret(e.REDIS_URL) : undefined,
    bootstrapAdminKey: e.SIYU_BOOTSTRAP_ADMIN_KEY ? new Secret(e.SIYU_BOOTSTRAP_ADMIN_KEY) : undefined,
    piiKey: e.SIYU_PII_KEY ? new Secret(e.SIYU_PII_KEY) : undefined,
    graphiql: e.SIYU_GRAPHIQL,
    bodyLimitBytes: e.SIYU_BODY_LIMIT_BYTES,
    limits: {
      maxQueryDepth: e.SIYU_MAX_QUERY_DEPTH,
      maxQueryComplexity: e.SIYU_MAX_QUERY_COMPLEXITY,
      rate: {
        read: { perSecond: e.SIYU_RATE_LIMIT_PER_SEC, burst: e.SIYU_RATE_LIMIT_BURST },
        ingest: { perSecond: e.SIYU_INGEST_RATE_LIMIT_PER_SEC, burst: e.SIYU_INGEST_RATE_LIMIT_BURST },
      },
      wsMaxConnectionsPerKey: e.SIYU_WS_MAX_CONNECTIONS_PER_KEY,
    },
    shutdownTimeoutMs: e.SIYU_SHUTDOWN_TIMEOUT_MS,
    sweep: { intervalMs: e.SIYU_SWEEP_INTERVAL_MS, batch: e.SIYU_SWEEP_BATCH },
    dueIntervalMs: e.SIYU_DUE_INTERVAL_MS,
    delivery: { intervalMs: e.SIYU_DELIVERY_INTERVAL_MS, backoffBaseMs: e.SIYU_DELIVERY_BACKOFF_MS, backoffMaxMs: e.SIYU_DELIVERY_BACKOFF_MAX_MS },
    ws: { maxBufferedBytes: e.SIYU_WS_MAX_BUFFERED_BYTES, stallTimeoutMs: e.SIYU_WS_STALL_TIMEOUT_MS },
    dbTimeoutMs: { read: e.SIYU_DB_TIMEOUT_READ_MS, write: e.SIYU_DB_TIMEOUT_WRITE_MS, export: e.SIYU_DB_TIMEOUT_EXPORT_MS },
    demo: e.SIYU_DEMO,
    logLevel: e.LOG_LEVEL,
  });
}

/** The variables, for the README table check and `siyu --help`. */
export const CONFIG_VARIABLES = Object.keys(envSchema.shape);
