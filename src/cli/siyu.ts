import 'reflect-metadata';
import fs from 'node:fs';
import path from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import pino from 'pino';
import { CONFIG_VARIABLES, ConfigError, loadConfig, type Config } from '../platform/config';
import { AppError, ErrorClass } from '../platform/errors';
import type { Logger } from '../platform/logging';
import type { Database } from '../platform/db';
import type { AppServices } from '../services';
import type { Role } from '../platform/auth';
// Type-only: the command modules load when their command runs, so `siyu --help` stays quick.
import type { ImportReport, ImportSink } from './import';
import type { RecomputeCliOptions, SeedCliOptions, SimulateCliOptions } from './operator';
import { DEMO } from '../demo/demo';
import { DEFAULT_SEED } from '../demo/generator';
import { UUID } from '../shared/uuid';

/**
 * `siyu`: the command line. `serve` and `migrate` are the same code as `npm start` and
 * `npm run db:migrate`; the other commands open the configured database in this process (or, for
 * `import --url`, talk to a running server). Results go to stdout, errors and progress to stderr.
 */

export const EXIT = { OK: 0, FATAL: 1, USAGE: 2, REJECTED: 3 } as const;

/** An expected failure: one line on stderr, no stack. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.USAGE,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

const GENERAL_EXIT_CODES = `
Exit codes:
  0  success
  1  fatal error (database or server unreachable, I/O error, interrupted)
  2  bad usage or configuration
  3  (import, seed, simulate) finished, but some events were rejected`;

const SEED_HELP = `
Generates a realistic, reproducible population (same --seed and --profiles → the same people and
events; timestamps end now) and ingests it through the normal ingest pipeline, so identity
resolution, tags, stages, journeys, health and KPI rollups are all real: people on several channels
(WeChat mini program and official account openids linked by unionid, WeCom contacts with their
staff, Douyin, Xiaohongshu, app devices, H5 visitors, store phones) whose profiles merge as they
link, Zipf-distributed activity, orders, NPS answers, invites, group buys, shares, touchpoints,
consents, churn, and (with --days above 33) silent people who come back.

Without --workspace it seeds the only workspace, or creates workspace "demo" (printing its admin
key) when the database has none. Events are idempotent: re-running continues an interrupted seed.
The embedded database is locked by a running server: stop it first, or use \`siyu simulate --url\`.

Exit codes:
  0  seeded
  1  fatal error or interrupted (Ctrl-C); re-running is safe
  2  bad usage or configuration
  3  finished, but some events were rejected`;

const SIMULATE_HELP = `
Keeps live traffic flowing: sessions of existing people of a seeded workspace (the same
deterministic identifiers as \`siyu seed\` with the same --profiles and --seed) plus some new people,
with current timestamps, at --rate events per second, until Ctrl-C (or --duration seconds).

Modes:
  direct (default)   writes into the configured database in this process
  remote (--url)     posts to a running server's GraphQL ingestEvents with an INGEST or ADMIN key;
                     the normal way while \`npm start\` runs (it locks the embedded database)

Exit codes:
  0  stopped by Ctrl-C or --duration, every event accepted
  1  fatal error (database or server unreachable)
  2  bad usage or configuration (bad --rate, bad key, …)
  3  stopped, but some events were rejected`;

const RECOMPUTE_HELP = `
Rebuilds read models from the stored events and profiles, for every live profile in chunks (one
transaction each, under the workspace's write lock), in this order: experiments (exposures and
per-variant counts), kpis (KPI rollups kpi_activity, kpi_profiles, and the per-variant rollups of the
EXPERIMENT_VARIANT breakdown), stages (lifecycle stages), health (health scores and tiers), tags (rule
tags and segments), attribution (paths and credit). Rule tags and segments read stage and health tags
and experiment variants, and the KPI variant rollups read exposures: after --only stages or health,
rebuild tags too; after --only experiments, kpis and tags too (--only experiments,kpis,tags). Progress is saved per chunk: an interrupted run resumes where it stopped when run again
(--restart starts over). Run it after restoring data, changing rules outside the API, or upgrading.

Exit codes:
  0  every chosen read model rebuilt
  1  fatal error or interrupted (Ctrl-C); run again to resume
  2  bad usage or configuration (unknown --only part, bad --workspace, …)`;

const IMPORT_HELP = `
Each line of the file is one event, shaped like the GraphQL EventInput, e.g.
  {"messageId":"o-1001","type":"track","name":"Order Completed","channel":"wechat_mp","timestamp":"2026-11-01T08:00:00Z","identifiers":[{"type":"wechat_openid","namespace":"wx5f0a","value":"oXyZ123"},{"type":"phone","value":"13812345678"}],"properties":{"revenue":199}}

Modes:
  direct (default)   opens the configured database (DATABASE_URL, or the embedded one in
                     SIYU_DATA_DIR) in this process. A running server locks the embedded database:
                     import through it with --url and --key instead.
  remote (--url)     posts batches to <url>/graphql (ingestEvents) with an INGEST or ADMIN key.

Events are idempotent by messageId: re-running a file (e.g. after an interruption) is safe, and
what was stored before counts as duplicate.

Exit codes:
  0  every event was accepted or was a duplicate
  1  fatal error (database or server unreachable, read error, interrupted); re-running is safe
  2  bad usage or configuration (unknown option, bad --batch-size, missing file, bad key, …)
  3  finished, but some lines were rejected (see the report, and --errors for all of them)`;

function packageVersion(): string {
  // src/cli (ts) or dist/src/cli (built): the package root is two or three levels up.
  for (const up of ['../..', '../../..']) {
    const file = path.resolve(__dirname, up, 'package.json');
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'siyu' && pkg.version) return pkg.version;
    }
  }
  return '0.0.0';
}

function loadCliConfig(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      throw new CliError(`invalid configuration: ${err.issues.map((i) => `${i.variable}: ${i.message}`).join('; ')}`, EXIT.USAGE);
    }
    throw err;
  }
}

/** Commands print results on stdout; logs go to stderr, warnings and worse unless LOG_LEVEL asks for more. */
function cliLogger(config: Config): Logger {
  const level = process.env.LOG_LEVEL ? config.logLevel : 'warn';
  return pino(
    {
      level,
      base: { service: 'siyu-cli' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ['key', '*.key', 'authorization', '*.authorization', 'phone', '*.phone', 'email', '*.email'], censor: '[redacted]' },
    },
    pino.destination({ fd: 2, sync: true }),
  );
}

export interface Local {
  db: Database;
  services: AppServices;
  close(): Promise<void>;
}

/**
 * The configured database and the module services, without an HTTP server: the same start-up
 * steps as `createApp` (auto-migrate when configured, refuse pending migrations), minus bootstrap.
 */
async function openLocal(config: Config, opts: { pubsub: boolean }): Promise<Local> {
  const log = cliLogger(config);
  const { openDatabase } = await import('../platform/db');
  const { openPubSub } = await import('../platform/pubsub');
  const { createServices } = await import('../services');
  const { openPiiCipher, resolvePiiMasterKey } = await import('../modules/identities');
  const { moduleEntities } = await import('../modules/registry');
  const db = await openDatabase(config, { entities: moduleEntities() });
  // With Redis configured, running servers hear about imported events (live dashboards).
  const pubsub = openPubSub(opts.pubsub ? config.redisUrl?.reveal() : undefined, log);
  const close = async () => {
    await pubsub.close();
    await db.close();
  };
  try {
    if (config.database.autoMigrate) await db.migrate();
    if (!(await db.migrationsCurrent())) throw new CliError('the database has pending migrations: run `siyu migrate` first', EXIT.FATAL);
    const services = createServices(db.dataSource, pubsub.pubSub, log, await openPiiCipher(db.dataSource, resolvePiiMasterKey(config, log), log));
    // A seed or an import grows a workspace as the server's ingest does: the planner statistics follow it the same way.
    if (db.kind === 'postgres') {
      const { StatisticsRefresher } = await import('../platform/db');
      services.ingest.statistics = StatisticsRefresher.forDataSource(db.dataSource, log);
    }
    const closeAll = async () => {
      await services.ingest.statistics?.close();
      await close();
    };
    return { db, services, close: closeAll };
  } catch (err) {
    await close();
    throw err;
  }
}

export async function withLocal<T>(opts: { pubsub: boolean }, fn: (local: Local) => Promise<T>): Promise<T> {
  const local = await openLocal(loadCliConfig(), opts);
  try {
    return await fn(local);
  } finally {
    await local.close();
  }
}

export async function findWorkspace(local: Local, id: string): Promise<{ id: string; name: string }> {
  if (!UUID.test(id)) throw new CliError(`--workspace ${id}: not a workspace id (a UUID)`);
  try {
    const ws = await local.services.workspaces.getWorkspace(id);
    return { id: ws.id, name: ws.name };
  } catch (err) {
    if (err instanceof AppError && err.errorClass === ErrorClass.NOT_FOUND) throw new CliError(`--workspace ${id}: no such workspace`);
    throw err;
  }
}

/** Without --workspace: the only workspace of the database, if there is exactly one. */
export async function onlyWorkspace(local: Local): Promise<{ id: string; name: string }> {
  // The workspaces module has no "list all" (the API never crosses tenants); a read-only query here.
  const rows: { id: string; name: string }[] = await local.db.dataSource.query(
    'SELECT id, name FROM workspaces ORDER BY created_at, id LIMIT 11',
  );
  if (rows.length === 1) return rows[0];
  if (rows.length === 0) throw new CliError('the database has no workspace yet: create one with `siyu workspace create <name>`');
  const list = rows.slice(0, 10).map((w) => `${w.id} (${w.name})`).join(', ');
  throw new CliError(`the database has several workspaces; choose one with --workspace <id>: ${list}${rows.length > 10 ? ', …' : ''}`);
}

export function say(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

// ---- commands --------------------------------------------------------------------------------

async function workspaceCreate(name: string, opts: { timeZone?: string }): Promise<number> {
  const trimmed = name.trim();
  if (trimmed.length < 1 || trimmed.length > 100) throw new CliError('<name> must be 1–100 characters');
  if (opts.timeZone !== undefined) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: opts.timeZone });
    } catch {
      throw new CliError(`--time-zone ${opts.timeZone}: not an IANA time zone (e.g. Asia/Shanghai)`);
    }
  }
  return withLocal({ pubsub: false }, async ({ services }) => {
    const { workspace, key } = await services.workspaces.createWorkspace(trimmed, opts.timeZone);
    say(
      [
        `Created workspace "${workspace.name}" (time zone ${workspace.timeZone}).`,
        `  workspace id:  ${workspace.id}`,
        `  admin key:     ${key}`,
        'The admin key is shown once: store it now. Use it as  Authorization: Bearer <key>',
      ].join('\n'),
    );
    return EXIT.OK;
  });
}

async function keyCreate(opts: { workspace: string; role: string; name?: string; pii?: boolean }): Promise<number> {
  const { Role } = await import('../platform/auth');
  const role = opts.role as Role;
  const name = (opts.name ?? `${role} key`).trim();
  if (name.length < 1 || name.length > 100) throw new CliError('--name must be 1–100 characters');
  // INGEST/ANALYST with --pii are refused by the service (PII_NOT_ALLOWED); ADMIN keys always see personal data.
  if (opts.pii && role === Role.ADMIN) process.stderr.write('siyu: note: ADMIN keys always see personal data; --pii changes nothing\n');
  return withLocal({ pubsub: false }, async (local) => {
    const ws = await findWorkspace(local, opts.workspace);
    const { cliActor } = await import('../modules/compliance');
    const { apiKey, key } = await local.services.workspaces.createApiKey(cliActor(ws.id), { role, name, pii: opts.pii === true });
    say(
      [
        `Created ${role.toUpperCase()} key "${apiKey.name}" in workspace "${ws.name}" (${ws.id}).`,
        `  key id:  ${apiKey.id}${apiKey.pii && role === Role.READ ? '  (sees unmasked personal data)' : ''}`,
        `  key:     ${key}`,
        'The key is shown once: store it now.',
      ].join('\n'),
    );
    return EXIT.OK;
  });
}

/**
 * `siyu pii-key rotate`: re-wraps the PII keyring with a new master key (read from a file, never
 * argv), adds a fresh encryption key and re-encrypts stored phones and e-mails under it.
 */
async function piiKeyRotate(opts: { newKeyFile: string; dataKey: boolean; reencrypt: boolean }): Promise<number> {
  const config = loadCliConfig();
  const { decodeKey } = await import('../platform/config');
  let raw: string;
  try {
    raw = fs.readFileSync(opts.newKeyFile, 'utf8').trim();
  } catch (err) {
    throw new CliError(`cannot read --new-key-file ${opts.newKeyFile}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const newMaster = decodeKey(raw);
  if (!newMaster) throw new CliError('the new key must be 32+ random bytes, as 64+ hex characters or base64 (e.g. `openssl rand -base64 32`)');
  const log = cliLogger(config);
  const { openDatabase } = await import('../platform/db');
  const { openPiiCipher, reencryptPii, resolvePiiMasterKey, rotatePiiKeyring } = await import('../modules/identities');
  const oldMaster = resolvePiiMasterKey(config, log);
  if (oldMaster.equals(newMaster)) throw new CliError('the new key is the current SIYU_PII_KEY');
  const db = await openDatabase(config);
  try {
    if (!(await db.migrationsCurrent())) throw new CliError('the database has pending migrations: run `siyu migrate` first', EXIT.FATAL);
    await openPiiCipher(db.dataSource, oldMaster, log);
    const r = await rotatePiiKeyring(db.dataSource, oldMaster, newMaster, opts.dataKey);
    let reencrypted = 0;
    if (opts.reencrypt) {
      const cipher = await openPiiCipher(db.dataSource, newMaster, log);
      reencrypted = await reencryptPii(db.dataSource, cipher, 1000, (n) => process.stderr.write(`\rre-encrypted ${n} phones and e-mails`));
      if (reencrypted) process.stderr.write('\n');
    }
    // The embedded default without SIYU_PII_KEY keeps its key in the data directory: replace it there.
    const keyFile = !config.piiKey && config.database.kind === 'embedded' && config.database.dataDir !== ':memory:' ? path.join(config.database.dataDir, 'siyu-pii.key') : null;
    if (keyFile) fs.writeFileSync(keyFile, newMaster.toString('base64') + '\n', { mode: 0o600 });
    say(
      [
        `Rotated the PII keyring: it now opens with the new key only; new data is encrypted under ${r.current} (keys: ${r.keyIds.join(', ')}).`,
        `Re-encrypted ${reencrypted} stored phones and e-mails.`,
        keyFile
          ? `Wrote the new key to ${keyFile} (the embedded database's key file).`
          : 'Now set SIYU_PII_KEY to the new key on every instance and restart them (an old key is refused with a clear error).',
      ].join('\n'),
    );
    return EXIT.OK;
  } finally {
    await db.close();
  }
}

interface ImportCliOptions {
  workspace?: string;
  batchSize: string;
  url?: string;
  key?: string;
  errors?: string;
}

async function importCommand(file: string, opts: ImportCliOptions): Promise<number> {
  const imp = await import('./import');
  let batchSize: number;
  try {
    batchSize = imp.parseBatchSize(opts.batchSize);
  } catch (err) {
    throw new CliError(`--batch-size ${opts.batchSize}: ${(err as Error).message}`);
  }
  if ((opts.url === undefined) !== (opts.key === undefined)) throw new CliError('--url and --key go together (remote mode); omit both to import into the configured database');
  if (opts.workspace !== undefined && !UUID.test(opts.workspace)) throw new CliError(`--workspace ${opts.workspace}: not a workspace id (a UUID)`);

  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort();
    process.stderr.write('\nsiyu import: stopping after the current batch (Ctrl-C again to quit at once)\n');
  };
  process.on('SIGINT', onSigint);
  const progress = process.stderr.isTTY ? imp.barProgress(process.stderr) : imp.lineProgress(process.stderr);
  const run = async (sink: ImportSink): Promise<number> => {
    process.stderr.write(`siyu import: ${file} → ${sink.target}\n`);
    const report = await imp.importFile({ file, batchSize, errorsFile: opts.errors, signal: controller.signal }, sink, progress);
    say(imp.formatReport(report));
    return report.rejected > 0 ? EXIT.REJECTED : EXIT.OK;
  };
  try {
    if (opts.url !== undefined && opts.key !== undefined) {
      const sink = await imp.connectRemote({ url: opts.url, key: opts.key });
      if (opts.workspace !== undefined && opts.workspace !== sink.workspaceId) {
        throw new CliError(`--workspace ${opts.workspace}: the key belongs to workspace ${sink.workspaceId} ("${sink.workspaceName}")`);
      }
      return await run(sink);
    }
    // Check the file before opening the database: a typo should not wait for a migration.
    await imp.checkFile(file);
    return await withLocal({ pubsub: true }, async (local) => {
      const ws = opts.workspace !== undefined ? await findWorkspace(local, opts.workspace) : await onlyWorkspace(local);
      return run(imp.directSink(local.services, ws.id, `workspace "${ws.name}" (${ws.id})`));
    });
  } catch (err) {
    if (err instanceof imp.ImportError) {
      throw new CliError(err.message + (err.report?.stoppedAfterLine !== undefined ? stoppedSummary(err.report) : ''), err.exitCode);
    }
    if (err instanceof AppError && err.reason === 'DATA_DIR_LOCKED') {
      throw new CliError(
        `${err.message} To import while the server runs, send the events through it: siyu import ${file} --url http://<host>:<port> --key <INGEST key>`,
        EXIT.FATAL,
      );
    }
    throw err;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

function stoppedSummary(r: ImportReport): string {
  return (
    ` — stopped after line ${r.stoppedAfterLine}: ${r.accepted} accepted, ${r.duplicates} duplicate, ${r.rejected} rejected so far;` +
    ' re-running the file is safe (stored events count as duplicates)'
  );
}

// ---- program ---------------------------------------------------------------------------------

/** The commander program; actions resolve to an exit code (`serve` resolves once listening). */
export function buildProgram(onExit: (code: number) => void): Command {
  const program = new Command('siyu');
  program
    .description('Siyu (私域) — a GraphQL customer data platform. Configuration comes from the environment, as for `npm start`.')
    .version(packageVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help for a command')
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(`siyu: ${str.replace(/^error: /, '')}`) })
    .showSuggestionAfterError(true)
    .addHelpText(
      'after',
      `\nEnvironment (see README, "Configuration"): ${CONFIG_VARIABLES.join(', ')}.\n${GENERAL_EXIT_CODES}\n\nRun \`siyu <command> --help\` for a command's options.`,
    );

  const done = (code: number) => onExit(code);

  program
    .command('serve')
    .description('start the server, exactly like `npm start`')
    .action(async () => {
      const { serve } = await import('../main');
      await serve();
    });

  program
    .command('migrate')
    .description('apply pending database migrations (or revert the last one)')
    .option('--revert', 'revert the last applied migration')
    .addHelpText('after', GENERAL_EXIT_CODES)
    .action(async (o: { revert?: boolean }) => {
      const config = loadCliConfig();
      const { migrate } = await import('./migrate');
      const applied = await migrate(config, o.revert === true);
      say(applied.length ? applied.join('\n') : 'Database is up to date.');
      done(EXIT.OK);
    });

  const workspace = program.command('workspace').description('manage workspaces (tenants) in the configured database');
  workspace
    .command('create')
    .description('create a workspace with its first ADMIN key; prints its id and the key (once)')
    .argument('<name>', 'display name, 1–100 characters')
    .option('--time-zone <tz>', 'IANA time zone', 'Asia/Shanghai')
    .addHelpText('after', GENERAL_EXIT_CODES)
    .action(async (name: string, o: { timeZone?: string }) => done(await workspaceCreate(name, o)));

  const key = program.command('key').description('manage API keys in the configured database');
  key
    .command('create')
    .description('create an API key; prints it once')
    .requiredOption('--workspace <id>', 'workspace id')
    .addOption(new Option('--role <role>', 'what the key may do').choices(['ingest', 'read', 'analyst', 'admin']).makeOptionMandatory())
    .option('--name <label>', 'label shown in key lists (default "<role> key")')
    .option('--pii', 'let a READ key see unmasked personal data')
    .addHelpText('after', GENERAL_EXIT_CODES)
    .action(async (o: { workspace: string; role: string; name?: string; pii?: boolean }) => done(await keyCreate(o)));

  const piiKey = program.command('pii-key').description('manage the master key that protects phones and e-mails (SIYU_PII_KEY)');
  piiKey
    .command('rotate')
    .description('re-wrap the PII keyring with a new master key; by default also add a fresh encryption key and re-encrypt stored phones and e-mails')
    .requiredOption('--new-key-file <file>', 'file holding the new key (32+ random bytes, base64 or hex), e.g. from `openssl rand -base64 32`')
    .option('--no-data-key', 'keep the current encryption key (only re-wrap with the new master key)')
    .option('--no-reencrypt', 'do not re-encrypt stored values now (they stay readable under their old key id)')
    .addHelpText(
      'after',
      `
Runs against the configured database with the CURRENT key in SIYU_PII_KEY. Afterwards set
SIYU_PII_KEY to the new key on every instance and restart them. Interrupted re-encryption is safe
to resume: run \`siyu pii-key rotate\` again with SIYU_PII_KEY = the new key and another new key, or
keep the key and re-run with --no-data-key.
${GENERAL_EXIT_CODES}`,
    )
    .action(async (o: { newKeyFile: string; dataKey: boolean; reencrypt: boolean }) => done(await piiKeyRotate(o)));

  program
    .command('import')
    .description('bulk-import events from an NDJSON file (one event per line)')
    .argument('<file>', 'NDJSON file, e.g. events.ndjson')
    .option('--workspace <id>', 'target workspace (direct mode; optional when the database has exactly one)')
    .option('--batch-size <n>', 'events per batch, 1–1000', '500')
    .option('--url <url>', 'remote mode: base URL of a running Siyu, e.g. http://127.0.0.1:4000')
    .option('--key <key>', 'remote mode: an INGEST (or ADMIN) API key')
    .option('--errors <file>', 'write every rejection to this file as NDJSON {line, messageId, reason, field, message}')
    .addHelpText('after', IMPORT_HELP)
    .action(async (file: string, o: ImportCliOptions) => done(await importCommand(file, o)));

  program
    .command('seed')
    .description('generate a realistic, reproducible demo population and ingest it')
    .option('--profiles <n>', 'people to generate', String(DEMO.profiles))
    .option('--days <d>', 'days of history, ending now', String(DEMO.days))
    .option('--seed <s>', 'random seed (same seed → same data)', String(DEFAULT_SEED))
    .option('--workspace <id>', 'target workspace (optional when the database has at most one)')
    .option('--batch-size <n>', 'events per ingest batch, 1–1000', '500')
    .addHelpText('after', SEED_HELP)
    .action(async (o: SeedCliOptions) => done(await (await import('./operator')).seedCommand(o)));

  program
    .command('simulate')
    .description('send live traffic (current timestamps) at a steady rate until Ctrl-C')
    .option('--rate <n>', 'events per second', '50')
    .option('--url <url>', 'remote mode: base URL of a running Siyu, e.g. http://127.0.0.1:4000')
    .option('--key <key>', 'remote mode: an INGEST (or ADMIN) API key')
    .option('--workspace <id>', 'direct mode: target workspace (optional when the database has exactly one)')
    .option('--profiles <n>', 'size of the seeded population to reuse (as given to `siyu seed`)', String(DEMO.profiles))
    .option('--seed <s>', 'seed of the seeded population (as given to `siyu seed`)', String(DEFAULT_SEED))
    .option('--new-people <share>', 'share of sessions by people not seen before, 0–1', '0.1')
    .option('--duration <seconds>', 'stop after this many seconds')
    .addHelpText('after', SIMULATE_HELP)
    .action(async (o: SimulateCliOptions) => done(await (await import('./operator')).simulateCommand(o)));

  program
    .command('recompute')
    .description('rebuild read models (KPI rollups, stages, health, experiments, tags, attribution) from stored data; resumable')
    .option('--workspace <id>', 'workspace (optional when the database has exactly one)')
    .option('--only <parts>', 'comma-separated subset of kpis,stages,membership,org,health,experiments,tags,attribution')
    .option('--chunk <n>', 'profiles per transaction, 1–10000', '500')
    .option('--restart', 'ignore the progress of an interrupted run and start over')
    .addHelpText('after', RECOMPUTE_HELP)
    .action(async (o: RecomputeCliOptions) => done(await (await import('./operator')).recomputeCommand(o)));

  return program;
}

/** Prints an error as one line (a stack only for the unexpected) and answers the exit code. */
export function reportError(err: unknown, command = 'siyu'): number {
  const line = (msg: string) => process.stderr.write(`${command}: ${msg}\n`);
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE; // commander printed it
  if (err instanceof CliError) {
    line(err.message);
    return err.exitCode;
  }
  if (err instanceof ConfigError) {
    line(`invalid configuration: ${err.issues.map((i) => `${i.variable}: ${i.message}`).join('; ')}`);
    return EXIT.USAGE;
  }
  if (err instanceof AppError) {
    line(err.message);
    return err.errorClass === ErrorClass.BAD_USER_INPUT || err.errorClass === ErrorClass.NOT_FOUND ? EXIT.USAGE : EXIT.FATAL;
  }
  line(err instanceof Error ? (err.stack ?? err.message) : String(err));
  return EXIT.FATAL;
}

export async function run(argv: string[] = process.argv): Promise<void> {
  const program = buildProgram((code) => process.exit(code));
  try {
    await program.parseAsync(argv);
  } catch (err) {
    const sub = argv.slice(2).find((a) => !a.startsWith('-'));
    process.exit(reportError(err, sub && ['import', 'seed', 'simulate', 'recompute'].includes(sub) ? `siyu ${sub}` : 'siyu'));
  }
}

if (require.main === module) void run();
