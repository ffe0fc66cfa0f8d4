import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeEvent } from '../support/events';
import { buildDist, errorLines, ROOT, runCli, startServer } from '../support/process';

/**
 * The `siyu` command as users run it: `node bin/siyu.js …` (what `npx siyu` runs) in its own
 * process, on a fresh embedded database. Checks help, exit codes and one-line errors, and the
 * workspace → key → import flow, direct and through a running server.
 */
let tmp: string;
let dataDir: string;
beforeAll(() => {
  buildDist();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'siyu-e2e-cli-'));
  dataDir = path.join(tmp, 'data');
}, 120_000);
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Runs the CLI on this file's data directory. */
const siyu = (args: string[], env: Record<string, string> = {}) => runCli(args, tmp, { SIYU_DATA_DIR: dataDir, ...env });

function ndjson(name: string, lines: string[]): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

describe('siyu CLI process', () => {
  it('prints help for the program and every command, and its version', async () => {
    const help = await siyu(['--help']);
    expect(help.code).toBe(0);
    for (const command of ['serve', 'migrate', 'workspace', 'key', 'import']) expect(help.stdout).toContain(command);
    expect(help.stdout).toMatch(/Exit codes:/);

    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect((await siyu(['--version'])).stdout.trim()).toBe(pkg.version);

    const imp = await siyu(['import', '--help']);
    expect(imp.code).toBe(0);
    expect(imp.stdout).toMatch(/Usage: siyu import \[options\] <file>/);
    expect(imp.stdout).toMatch(/--batch-size <n>/);
    expect(imp.stdout).toMatch(/--url <url>/);
    expect(imp.stdout).toMatch(/Exit codes:\n\s+0 .+\n\s+1 .+\n\s+2 .+\n\s+3 .+rejected/);

    for (const args of [['serve', '--help'], ['migrate', '--help'], ['workspace', 'create', '--help'], ['key', 'create', '--help']]) {
      const r = await siyu(args);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^Usage: siyu /);
    }
  });

  it('answers bad usage with one line on stderr and exit code 2', async () => {
    const missing = await siyu(['import', 'no-such-file.ndjson']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe('siyu import: no-such-file.ndjson: no such file\n');
    expect(missing.stdout).toBe('');

    const file = ndjson('one.ndjson', [JSON.stringify(makeEvent())]);
    for (const size of ['0', '1001', 'abc', '2.5']) {
      const r = await siyu(['import', file, '--batch-size', size]);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(`siyu import: --batch-size ${size}: must be a whole number from 1 to 1000\n`);
    }
    const unknown = await siyu(['import', file, '--no-such-option']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^siyu: unknown option '--no-such-option'/)]);

    const half = await siyu(['import', file, '--url', 'http://127.0.0.1:1']);
    expect(half.code).toBe(2);
    expect(half.stderr).toMatch(/^siyu import: --url and --key go together/);

    const role = await siyu(['key', 'create', '--workspace', 'x', '--role', 'owner']);
    expect(role.code).toBe(2);
    expect(role.stderr).toMatch(/Allowed choices are ingest, read, analyst, admin/);

    const config = await siyu(['import', file], { DATABASE_URL: 'mysql://nope' });
    expect(config.code).toBe(2);
    expect(config.stderr).toBe('siyu import: invalid configuration: DATABASE_URL: DATABASE_URL must start with postgres:// or postgresql://\n');
  });

  it('creates a workspace and a key (audited), imports directly (exit 0, then 3 with a broken line), and through a running server', async () => {
    const created = await siyu(['workspace', 'create', 'e2e brand', '--time-zone', 'Asia/Shanghai']);
    expect(created.code).toBe(0);
    const workspaceId = created.stdout.match(/workspace id:\s+(\S+)/)![1];
    const adminKey = created.stdout.match(/admin key:\s+(siyu_\S{32})/)![1];
    expect(created.stdout).toMatch(/admin key:\s+siyu_\S{32}/);

    const keyRun = await siyu(['key', 'create', '--workspace', workspaceId, '--role', 'ingest', '--name', 'e2e import']);
    expect(keyRun.code).toBe(0);
    const ingestKey = keyRun.stdout.match(/key:\s+(siyu_\S{32})/)![1];
    const ingestKeyId = keyRun.stdout.match(/key id:\s+(\S+)/)![1];

    const events = Array.from({ length: 30 }, (_, i) => JSON.stringify(makeEvent({ messageId: `e2e-${i}`, identifiers: [`member_id::e2e-${i % 7}`] })));
    const clean = ndjson('clean.ndjson', events);
    // Exactly one workspace in the database: --workspace may be left out.
    const first = await siyu(['import', clean, '--batch-size', '8']);
    expect(errorLines(first)).toEqual([`siyu import: ${clean} → workspace "e2e brand" (${workspaceId})`]);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/accepted:\s+30\n\s+duplicate:\s+0\n\s+rejected:\s+0/);

    const broken = ndjson('broken.ndjson', [...events.slice(0, 5), '{not json', ...events.slice(5)]);
    const errorsFile = path.join(tmp, 'errors.ndjson');
    const second = await siyu(['import', broken, '--workspace', workspaceId, '--errors', errorsFile]);
    expect(second.code).toBe(3);
    expect(second.stdout).toMatch(/accepted:\s+0\n\s+duplicate:\s+30\n\s+rejected:\s+1/);
    expect(second.stdout).toMatch(/line 6\s+MALFORMED_JSON/);
    expect(JSON.parse(fs.readFileSync(errorsFile, 'utf8'))).toMatchObject({ line: 6, reason: 'MALFORMED_JSON' });

    // A running server locks the embedded database: direct import says so and points to --url.
    const server = startServer({ SIYU_DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'warn' });
    try {
      const [, url] = await server.waitFor(/GraphQL:\s+(http:\/\/\S+)\/graphql/, 60_000);
      // `siyu key create` wrote its audit row, as the operator on the command line.
      const audit = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` },
        body: JSON.stringify({ query: '{ auditLog(filter: { action: "api_key.create" }) { entries { targetId actorKeyId actorRole requestId details } } }' }),
      }).then((r) => r.json() as Promise<{ data: { auditLog: { entries: unknown[] } } }>);
      expect(audit.data.auditLog.entries).toEqual([
        { targetId: ingestKeyId, actorKeyId: null, actorRole: null, requestId: `cli:${os.userInfo().username}`, details: { role: 'ingest', pii: false, name: 'e2e import' } },
      ]);
      const locked = await siyu(['import', clean]);
      expect(locked.code).toBe(1);
      expect(errorLines(locked)).toEqual([expect.stringMatching(/in use by another Siyu process.*--url http:\/\/<host>:<port> --key <INGEST key>/)]);

      const more = ndjson('more.ndjson', [...events, JSON.stringify(makeEvent({ messageId: 'e2e-remote', identifiers: ['member_id::e2e-1'] }))]);
      const remote = await siyu(['import', more, '--url', url, '--key', ingestKey]);
      expect(remote.code).toBe(0);
      expect(remote.stdout).toMatch(/accepted:\s+1\n\s+duplicate:\s+30\n\s+rejected:\s+0/);
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  }, 180_000);
});

describe('siyu pii-key rotate', () => {
  it('rotates the embedded key file, re-encrypts, and the database keeps working; bad input is one line, exit 2', async () => {
    const dir = path.join(tmp, 'rotate');
    const env = { SIYU_DATA_DIR: dir };
    const created = await siyu(['workspace', 'create', 'rotation'], env);
    expect(created.code).toBe(0);
    const workspaceId = created.stdout.match(/workspace id:\s+(\S+)/)![1];
    const keyFile = path.join(dir, 'siyu-pii.key');
    const oldKey = fs.readFileSync(keyFile, 'utf8').trim();

    const missing = await siyu(['pii-key', 'rotate', '--new-key-file', path.join(tmp, 'nope.key')], env);
    expect(missing.code).toBe(2);
    expect(errorLines(missing)).toEqual([expect.stringMatching(/^siyu: cannot read --new-key-file .*nope\.key: ENOENT$/)]);
    const short = path.join(tmp, 'short.key');
    fs.writeFileSync(short, 'c2hvcnQ=\n');
    expect((await siyu(['pii-key', 'rotate', '--new-key-file', short], env)).code).toBe(2);

    const fresh = path.join(tmp, 'new.key');
    const newKey = Buffer.alloc(32, 9).toString('base64');
    fs.writeFileSync(fresh, `${newKey}\n`);
    const rotated = await siyu(['pii-key', 'rotate', '--new-key-file', fresh], env);
    expect(errorLines(rotated)).toEqual([]);
    expect(rotated.code).toBe(0);
    expect(rotated.stdout).toMatch(/new data is encrypted under k2/);
    expect(fs.readFileSync(keyFile, 'utf8').trim()).toBe(newKey);
    expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600);
    // The database opens with the new key file; with the old key it refuses, naming the variable.
    expect((await siyu(['key', 'create', '--workspace', workspaceId, '--role', 'read'], env)).code).toBe(0);
    const old = await siyu(['key', 'create', '--workspace', workspaceId, '--role', 'read'], { ...env, SIYU_PII_KEY: oldKey });
    expect(old.code).not.toBe(0);
    expect(errorLines(old).join('\n')).toMatch(/SIYU_PII_KEY/);
  }, 120_000);
});
