import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bootApp, type TestApp } from '../support/app';
import { makeEvent } from '../support/events';
import { connectRemote, directSink, formatReport, importFile, ImportError, type ImportProgress, type ImportReport, type ProgressState } from '../../src/cli/import';
import { Role } from '../../src/platform/auth';
import { systemActor } from '../../src/modules/compliance';

/**
 * `siyu import` without a terminal: `importFile` streams an NDJSON file through the direct sink
 * (this app's ingest service) and the remote sink (the app's /graphql with an INGEST key).
 */
let t: TestApp;
let dir: string;
let directWorkspaceId: string | undefined;
beforeAll(async () => {
  t = await bootApp();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'siyu-cli-import-'));
});
afterAll(async () => {
  await t.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const EVENTS = 1200;

/**
 * 1,200 events of 300 members who also show up by phone and by mini-program openid (so profiles
 * merge across batches), two of them invalid (unknown channel; a messageId GraphQL cannot carry),
 * one line of broken JSON and one blank line. Answers the file and the expected line numbers.
 */
function writeFixture(name: string) {
  const lines: string[] = [];
  const at: Record<string, number> = {};
  for (let i = 0; i < EVENTS; i++) {
    const ids = [`member_id::m-${i % 300}`];
    if (i % 2) ids.push(`phone::1380013${String(i % 300).padStart(4, '0')}`);
    if (i % 3 === 0) ids.push(`wechat_openid:wx-mini:o-${i % 300}`);
    let line = JSON.stringify(makeEvent({ messageId: `${name}-${i}`, identifiers: ids, name: i % 10 ? 'Product Viewed' : 'Order Completed', properties: { revenue: i % 50 } }));
    if (i === 100) {
      line = JSON.stringify({ ...JSON.parse(line), channel: 'fax' });
      at.unknownChannel = lines.length + 1;
    }
    if (i === 700) {
      line = JSON.stringify({ ...JSON.parse(line), messageId: 700, extra: 'ignored' });
      at.numericMessageId = lines.length + 1;
    }
    lines.push(line);
    if (i === 400) {
      lines.push('{"messageId": "broken", "type": ');
      at.brokenJson = lines.length;
    }
    if (i === 401) lines.push('');
  }
  const file = path.join(dir, `${name}.ndjson`);
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return { file, at, size: fs.statSync(file).size };
}

function recorder(): ImportProgress & { starts: number[]; updates: ProgressState[]; stopped: number } {
  const r = {
    starts: [] as number[],
    updates: [] as ProgressState[],
    stopped: 0,
    start: (total: number) => void r.starts.push(total),
    update: (s: ProgressState) => void r.updates.push(s),
    stop: () => void r.stopped++,
  };
  return r;
}

async function liveProfiles(workspaceId: string): Promise<number> {
  const [{ n }] = await t.app.db.dataSource.query('SELECT count(*)::int AS n FROM profiles WHERE workspace_id = $1 AND merged_into IS NULL', [workspaceId]);
  return n;
}

function expectFirstRun(report: ImportReport, at: Record<string, number>) {
  expect(report).toMatchObject({ lines: EVENTS + 1, accepted: EVENTS - 2, duplicates: 0, rejected: 3, invalidJson: { count: 1, lines: [at.brokenJson] } });
  expect(report.rejections).toEqual([
    { line: at.unknownChannel, messageId: expect.stringMatching(/-100$/), reason: 'UNKNOWN_CHANNEL', field: 'channel', message: 'unknown channel "fax"' },
    { line: at.brokenJson, messageId: null, reason: 'MALFORMED_JSON', field: '', message: expect.stringMatching(/^not valid JSON: /) },
    { line: at.numericMessageId, messageId: null, reason: 'INVALID_MESSAGE_ID', field: 'messageId', message: expect.any(String) },
  ]);
}

describe('siyu import (importFile)', () => {
  it('imports directly through the ingest service, reports rejections by line, and is idempotent on a re-run', async () => {
    const { workspaceId } = await t.newWorkspace('cli direct');
    directWorkspaceId = workspaceId;
    const { file, at, size } = writeFixture('direct');
    const errorsFile = path.join(dir, 'direct-errors.ndjson');
    const progress = recorder();

    const first = await importFile({ file, errorsFile }, directSink(t.app.services, workspaceId), progress);
    expectFirstRun(first, at);
    expect(first.bytes).toBe(size);
    // Progress: started with the file size, one update per batch of 500 lines, ends at 100%.
    expect(progress.starts).toEqual([size]);
    expect(progress.updates.length).toBeGreaterThanOrEqual(3);
    expect(progress.updates.at(-1)).toMatchObject({ bytesRead: size, totalBytes: size, accepted: EVENTS - 2, rejected: 3 });
    expect(progress.stopped).toBe(1);
    // Every rejection, in file order, as NDJSON.
    const written = fs.readFileSync(errorsFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(written.map((r) => [r.line, r.reason])).toEqual([
      [at.unknownChannel, 'UNKNOWN_CHANNEL'],
      [at.brokenJson, 'MALFORMED_JSON'],
      [at.numericMessageId, 'INVALID_MESSAGE_ID'],
    ]);
    const profiles = await liveProfiles(workspaceId);
    expect(profiles).toBe(300); // 300 members, each seen by member id, phone and openid across batches

    const again = await importFile({ file, batchSize: 1000 }, directSink(t.app.services, workspaceId));
    expect(again).toMatchObject({ accepted: 0, duplicates: EVENTS - 2, rejected: 3 });
    expect(again.rejections.map((r) => r.line)).toEqual([at.unknownChannel, at.brokenJson, at.numericMessageId]);
    expect(await liveProfiles(workspaceId)).toBe(profiles);

    const text = formatReport(first);
    expect(text).toMatch(/accepted:\s+1,198/);
    expect(text).toContain(`line ${at.brokenJson}`);
    expect(text).toContain(`All rejections are in ${errorsFile}`);
  }, 120_000);

  it('imports remotely through /graphql with an INGEST key, with the same outcome as direct', async () => {
    const { workspaceId } = await t.newWorkspace('cli remote');
    const { key } = await t.app.services.workspaces.createApiKey(systemActor(workspaceId), { role: Role.INGEST, name: 'cli' });
    const { file, at } = writeFixture('remote');

    // A small request limit splits each batch of 250 into several requests.
    const sink = await connectRemote({ url: t.url, key, maxRequestBytes: 40_000 });
    expect(sink).toMatchObject({ workspaceId, role: 'INGEST' });
    const first = await importFile({ file, batchSize: 250 }, sink);
    expectFirstRun(first, at);

    const again = await importFile({ file }, await connectRemote({ url: `${t.url}/graphql`, key }));
    expect(again).toMatchObject({ accepted: 0, duplicates: EVENTS - 2, rejected: 3 });

    // The same people as the direct import, however the events travelled.
    if (directWorkspaceId) expect(await liveProfiles(workspaceId)).toBe(await liveProfiles(directWorkspaceId));
  }, 120_000);

  it('refuses keys that cannot ingest, missing files and bad batch sizes as usage errors (exit code 2)', async () => {
    const { workspaceId } = await t.newWorkspace('cli refusals');
    const { key: readKey } = await t.app.services.workspaces.createApiKey(systemActor(workspaceId), { role: Role.READ, name: 'reader' });
    const usage = (p: Promise<unknown>, message: RegExp) =>
      expect(p).rejects.toMatchObject({ name: 'ImportError', exitCode: 2, message: expect.stringMatching(message) });

    await usage(connectRemote({ url: t.url, key: readKey }), /READ key cannot ingest/);
    await usage(connectRemote({ url: t.url, key: 'siyu_not-a-key-not-a-key-not-a-key' }), /^--key: /);
    await usage(connectRemote({ url: 'ftp://example.com', key: readKey }), /http:\/\/ or https:\/\//);

    const sink = directSink(t.app.services, workspaceId);
    await usage(importFile({ file: path.join(dir, 'missing.ndjson') }, sink), /missing\.ndjson: no such file/);
    await usage(importFile({ file: dir }, sink), /not a file/);
    const { file } = writeFixture('refusals');
    await usage(importFile({ file, batchSize: 1001 }, sink), /batch-size/);
    expect(await liveProfiles(workspaceId)).toBe(0);
  });

  it('stops with the report so far when the sink fails, naming the lines of the failed batch', async () => {
    const { file } = writeFixture('failing');
    let calls = 0;
    const failing = {
      target: 'test sink',
      async send(events: unknown[]) {
        if (++calls === 2) throw new Error('connection lost');
        return events.map(() => ({ status: 'ACCEPTED' as const, messageId: null, droppedIdentifiers: 0, error: null }));
      },
    };
    const err = (await importFile({ file, batchSize: 400 }, failing).catch((e) => e)) as ImportError;
    expect(err).toBeInstanceOf(ImportError);
    expect(err.exitCode).toBe(1);
    expect(err.message).toMatch(/^test sink failed on the batch of lines 401–\d+: connection lost$/);
    expect(err.report).toMatchObject({ accepted: 400, stoppedAfterLine: 400 });
  });
});
