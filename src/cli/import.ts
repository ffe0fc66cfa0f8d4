import fs from 'node:fs';
import readline from 'node:readline';
import { SingleBar } from 'cli-progress';
import { EVENT_TYPES, MAX_EVENTS_PER_BATCH, MAX_EVENT_BYTES, type RawEvent } from '../modules/events';
import type { AppServices } from '../services';

/**
 * `siyu import`: streams an NDJSON file of events (one `EventInput`-shaped object per line) into a
 * workspace, batch by batch, through a sink — the ingest service in this process (direct) or a
 * running server's `ingestEvents` mutation (remote). Idempotent by messageId: a re-run of the same
 * file reports every stored event as DUPLICATE.
 */

export const DEFAULT_BATCH_SIZE = 500;
export const DEFAULT_REPORTED_REJECTIONS = 20;
/** Line numbers of non-JSON lines kept in the report (the count is always exact). */
const MAX_INVALID_JSON_LINES = 1000;

export type ImportStatus = 'ACCEPTED' | 'DUPLICATE' | 'REJECTED';

export interface EventError {
  reason: string;
  /** Path inside the event, e.g. `identifiers.1.value`; empty for the whole event or line. */
  field: string;
  message: string;
}

/** What the sink did with one event of a batch. */
export interface SinkResult {
  status: ImportStatus;
  messageId: string | null;
  droppedIdentifiers: number;
  error: EventError | null;
}

/** Where batches go: direct (this process's ingest service) or remote (a server's GraphQL API). */
export interface ImportSink {
  /** Human description of the target, for messages. */
  readonly target: string;
  /** Ingests one batch in order and answers one result per event, in batch order. Throws only when the whole batch failed. */
  send(events: RawEvent[]): Promise<SinkResult[]>;
}

export interface ProgressState {
  bytesRead: number;
  totalBytes: number;
  /** Last line read (1-based). */
  line: number;
  /** Events sent (non-blank lines that parsed as JSON). */
  events: number;
  accepted: number;
  duplicates: number;
  rejected: number;
  elapsedMs: number;
}

export interface ImportProgress {
  start(totalBytes: number): void;
  update(state: ProgressState): void;
  stop(): void;
}

export interface ImportOptions {
  file: string;
  /** Events per batch, 1–1000; default 500. */
  batchSize?: number;
  /** Write every rejection to this file as NDJSON. */
  errorsFile?: string;
  /** How many rejections the report keeps (in file order); default 20. */
  reportRejections?: number;
  /** Stops between two batches (Ctrl-C); what was sent stays, a re-run continues. */
  signal?: AbortSignal;
}

export interface Rejection extends EventError {
  line: number;
  messageId: string | null;
}

export interface ImportReport {
  file: string;
  bytes: number;
  /** Non-blank lines read. */
  lines: number;
  accepted: number;
  duplicates: number;
  /** Rejected events, including lines that were not valid JSON. */
  rejected: number;
  droppedIdentifiers: number;
  /** Lines that were not valid JSON: exact count, first 1,000 line numbers. */
  invalidJson: { count: number; lines: number[] };
  /** The first rejections in file order (see `reportRejections`). */
  rejections: Rejection[];
  errorsFile?: string;
  elapsedMs: number;
  /** Set when the import stopped early: the last line whose batch was sent. */
  stoppedAfterLine?: number;
}

/** A failure that ends the import; `exitCode` 2 = bad usage/config, 1 = fatal. Carries the report so far. */
export class ImportError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2,
    readonly report?: ImportReport,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ImportError';
  }
}

const noProgress: ImportProgress = { start() {}, update() {}, stop() {} };

export function parseBatchSize(value: string): number {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isInteger(n) || n < 1 || n > MAX_EVENTS_PER_BATCH) {
    throw new RangeError(`must be a whole number from 1 to ${MAX_EVENTS_PER_BATCH}`);
  }
  return n;
}

/** Reads `opts.file` line by line and sends it through `sink` in batches; resolves to the final report. */
export async function importFile(opts: ImportOptions, sink: ImportSink, progress: ImportProgress = noProgress): Promise<ImportReport> {
  const batchSize = opts.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_EVENTS_PER_BATCH) {
    throw new ImportError(`--batch-size must be a whole number from 1 to ${MAX_EVENTS_PER_BATCH}`, 2);
  }
  const keep = opts.reportRejections ?? DEFAULT_REPORTED_REJECTIONS;
  const totalBytes = await checkFile(opts.file);
  const errors = opts.errorsFile ? await openErrorsFile(opts.errorsFile) : null;

  const started = performance.now();
  const report: ImportReport = {
    file: opts.file,
    bytes: totalBytes,
    lines: 0,
    accepted: 0,
    duplicates: 0,
    rejected: 0,
    droppedIdentifiers: 0,
    invalidJson: { count: 0, lines: [] },
    rejections: [],
    errorsFile: opts.errorsFile,
    elapsedMs: 0,
  };
  let bytesRead = 0;
  let line = 0;
  let events = 0;
  let sentThrough = 0;
  let batch: { line: number; event: unknown }[] = [];
  // Lines that were not JSON wait here so rejections reach the report and errors file in file order.
  let pending: Rejection[] = [];

  const state = (): ProgressState => ({
    bytesRead: Math.min(bytesRead, totalBytes),
    totalBytes,
    line,
    events,
    accepted: report.accepted,
    duplicates: report.duplicates,
    rejected: report.rejected,
    elapsedMs: performance.now() - started,
  });

  const record = async (rejections: Rejection[]) => {
    if (!rejections.length) return;
    rejections.sort((a, b) => a.line - b.line);
    if (report.rejections.length < keep) report.rejections.push(...rejections.slice(0, keep - report.rejections.length));
    if (errors) await errors.write(rejections);
  };

  const flush = async () => {
    const sending = batch;
    const invalid = pending;
    batch = [];
    pending = [];
    const rejections: Rejection[] = [...invalid];
    if (sending.length) {
      const [from, to] = [sending[0].line, sending[sending.length - 1].line];
      if (opts.signal?.aborted) throw failure(opts.signal.reason, from, to);
      let results: SinkResult[];
      try {
        results = await sink.send(sending.map((b) => b.event as RawEvent));
      } catch (err) {
        throw failure(err, from, to);
      }
      if (results.length !== sending.length) {
        throw failure(new Error(`answered ${results.length} results for ${sending.length} events`), from, to);
      }
      results.forEach((r, i) => {
        report.droppedIdentifiers += r.droppedIdentifiers;
        if (r.status === 'ACCEPTED') report.accepted++;
        else if (r.status === 'DUPLICATE') report.duplicates++;
        else {
          report.rejected++;
          const error = r.error ?? { reason: 'REJECTED', field: '', message: 'rejected without a reason' };
          rejections.push({ line: sending[i].line, messageId: r.messageId, ...error });
        }
      });
    }
    sentThrough = line;
    await record(rejections);
    progress.update(state());
  };

  const failure = (err: unknown, from: number, to: number): ImportError => {
    report.elapsedMs = performance.now() - started;
    report.stoppedAfterLine = sentThrough;
    const where = from === to ? `line ${from}` : `lines ${from}–${to}`;
    if (opts.signal?.aborted) return new ImportError('interrupted; the batches sent so far are stored', 1, report, { cause: err });
    if (err instanceof ImportError) return new ImportError(`${err.message} (batch of ${where})`, err.exitCode, report, { cause: err.cause });
    const message = err instanceof Error ? err.message : String(err);
    return new ImportError(`${sink.target} failed on the batch of ${where}: ${message}`, 1, report, { cause: err });
  };

  const input = fs.createReadStream(opts.file);
  const rl = readline.createInterface({ input, crlfDelay: Infinity });
  progress.start(totalBytes);
  try {
    try {
      for await (const raw of rl) {
        line++;
        bytesRead += Buffer.byteLength(raw, 'utf8') + 1;
        const text = (line === 1 ? raw.replace(/^\uFEFF/, '') : raw).trim();
        if (!text) continue;
        report.lines++;
        let event: unknown;
        try {
          event = JSON.parse(text);
        } catch (err) {
          report.rejected++;
          report.invalidJson.count++;
          if (report.invalidJson.lines.length < MAX_INVALID_JSON_LINES) report.invalidJson.lines.push(line);
          pending.push({ line, messageId: null, reason: 'MALFORMED_JSON', field: '', message: `not valid JSON: ${(err as Error).message}` });
        }
        if (event !== undefined) {
          events++;
          batch.push({ line, event });
        }
        if (batch.length + pending.length >= batchSize) await flush();
      }
    } catch (err) {
      if (err instanceof ImportError) throw err;
      throw new ImportError(`cannot read ${opts.file}: ${(err as Error).message}`, 1, { ...report, stoppedAfterLine: sentThrough }, { cause: err });
    }
    await flush();
    bytesRead = totalBytes;
    progress.update(state());
  } finally {
    rl.close();
    input.destroy();
    progress.stop();
    await errors?.close();
  }
  report.elapsedMs = performance.now() - started;
  return report;
}

/** The size of a readable file; an ImportError (usage) naming the problem otherwise. */
export async function checkFile(file: string): Promise<number> {
  let stat: fs.Stats;
  try {
    stat = await fs.promises.stat(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ImportError(code === 'ENOENT' ? `${file}: no such file` : `${file}: ${(err as Error).message}`, 2);
  }
  if (!stat.isFile()) throw new ImportError(`${file}: not a file`, 2);
  try {
    await fs.promises.access(file, fs.constants.R_OK);
  } catch {
    throw new ImportError(`${file}: not readable`, 2);
  }
  return stat.size;
}

async function openErrorsFile(file: string): Promise<{ write(r: Rejection[]): Promise<void>; close(): Promise<void> }> {
  const out = fs.createWriteStream(file, { flags: 'w' });
  let failed: Error | undefined;
  await new Promise<void>((resolve, reject) => {
    out.once('open', () => resolve());
    out.once('error', (err) => reject(new ImportError(`--errors ${file}: ${err.message}`, 2)));
  });
  out.on('error', (err) => (failed = err));
  return {
    async write(rejections) {
      if (failed) throw new ImportError(`--errors ${file}: ${failed.message}`, 1);
      const text = rejections.map((r) => JSON.stringify(r)).join('\n') + '\n';
      if (!out.write(text)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
    },
    close: () => new Promise<void>((resolve) => out.end(() => resolve())),
  };
}

/** Direct mode: the ingest service of an app opened in this process. */
export function directSink(services: Pick<AppServices, 'ingest'>, workspaceId: string, target = `workspace ${workspaceId}`): ImportSink {
  return {
    target,
    async send(events) {
      const outcome = await services.ingest.ingest(workspaceId, events);
      return outcome.results.map((r) => ({ status: r.status, messageId: r.messageId, droppedIdentifiers: r.droppedIdentifiers, error: r.error }));
    },
  };
}

export interface RemoteOptions {
  /** Base URL of a running Siyu (`http://host:port`); a trailing `/graphql` is accepted. */
  url: string;
  /** API key with role INGEST (or ADMIN). */
  key: string;
  /** Largest request body to send; batches are split below it (the server's default limit is 1 MiB). */
  maxRequestBytes?: number;
  /** Waits before retrying a request that failed for a passing reason (network, 429, 5xx). */
  retryDelaysMs?: number[];
  fetch?: typeof fetch;
}

const INGEST_MUTATION = `mutation SiyuImport($events: [EventInput!]!) {
  ingestEvents(events: $events) { results { index messageId status droppedIdentifiers error { reason field message } } }
}`;
const ME_QUERY = 'query SiyuImportCheck { me { role workspace { id name } } }';

interface GqlError {
  message: string;
  extensions?: { code?: string; reason?: string };
}

/**
 * Remote mode: checks the key (`me`), then posts batches to `<url>/graphql` as `ingestEvents`.
 * Events are shaped to `EventInput` first, so an event GraphQL could not coerce is rejected on its
 * own (with the reason the server would give) instead of failing the whole batch.
 */
export async function connectRemote(opts: RemoteOptions): Promise<ImportSink & { workspaceId: string; workspaceName: string; role: string }> {
  let base: URL;
  try {
    base = new URL(opts.url);
  } catch {
    throw new ImportError(`--url ${opts.url}: not a URL (expected e.g. http://127.0.0.1:4000)`, 2);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new ImportError(`--url ${opts.url}: must start with http:// or https://`, 2);
  const endpoint = base.href.replace(/\/+$/, '').replace(/\/graphql$/, '') + '/graphql';
  const doFetch = opts.fetch ?? fetch;
  const maxBytes = opts.maxRequestBytes ?? 768 * 1024;
  const delays = opts.retryDelaysMs ?? [500, 1000, 2000, 4000];

  /** One POST with retries for passing failures; answers the HTTP status and parsed body. */
  const post = async (body: string, retry = true): Promise<{ status: number; json: { data?: Record<string, unknown> | null; errors?: GqlError[] } }> => {
    for (let attempt = 0; ; attempt++) {
      let json: { data?: Record<string, unknown> | null; errors?: GqlError[] } | undefined;
      let problem: string;
      let retryAfterMs: number | undefined;
      try {
        const res = await doFetch(endpoint, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${opts.key}` },
          body,
        });
        const status = res.status;
        const text = await res.text();
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        const code = json?.errors?.[0]?.extensions?.code;
        const passing = status === 429 || status === 502 || status === 503 || status === 504 || code === 'RATE_LIMITED' || code === 'INTERNAL_SERVER_ERROR';
        if (!passing && json) return { status, json };
        if (!passing) throw new ImportError(`${endpoint} answered HTTP ${status} without a GraphQL response: ${text.slice(0, 200)}`, 1);
        problem = json?.errors?.[0]?.message ?? `HTTP ${status}`;
        const ra = Number(res.headers.get('retry-after'));
        if (Number.isFinite(ra) && ra > 0) retryAfterMs = Math.min(ra * 1000, 30_000);
      } catch (err) {
        if (err instanceof ImportError) throw err;
        const cause = (err as Error & { cause?: { code?: string; message?: string } }).cause;
        problem = `cannot reach ${endpoint}: ${cause?.code ?? cause?.message ?? (err as Error).message}`;
      }
      if (!retry || attempt >= delays.length) throw new ImportError(problem, 1);
      await new Promise((r) => setTimeout(r, retryAfterMs ?? delays[attempt]));
    }
  };

  const refuse = (status: number, errors: GqlError[] | undefined): ImportError => {
    const e = errors?.[0];
    const code = e?.extensions?.code;
    if (status === 401 || code === 'UNAUTHENTICATED') return new ImportError(`--key: ${e?.message ?? 'the API key is missing, unknown or revoked'}`, 2);
    if (status === 403 || code === 'FORBIDDEN') return new ImportError(`--key: ${e?.message ?? 'the API key may not ingest'} (an INGEST or ADMIN key is needed)`, 2);
    return new ImportError(`${endpoint}: ${e?.message ?? `HTTP ${status}`}${code ? ` (${code})` : ''}`, 1);
  };

  // No retries here: an unreachable URL at the start is a typo or a stopped server, not a hiccup.
  const me = await post(JSON.stringify({ query: ME_QUERY }), false);
  const who = me.json.data?.me as { role: string; workspace: { id: string; name: string } } | undefined;
  if (!who) throw refuse(me.status, me.json.errors);
  if (who.role !== 'INGEST' && who.role !== 'ADMIN') {
    throw new ImportError(`--key: a ${who.role} key cannot ingest events; use an INGEST or ADMIN key`, 2);
  }

  /** Posts one chunk (already shaped); splits it when the server finds the body too large. */
  const sendChunk = async (inputs: Record<string, unknown>[]): Promise<SinkResult[]> => {
    const { status, json } = await post(JSON.stringify({ query: INGEST_MUTATION, variables: { events: inputs } }));
    if (status === 413 || json.errors?.[0]?.extensions?.reason === 'BODY_TOO_LARGE') {
      if (inputs.length > 1) {
        const half = Math.ceil(inputs.length / 2);
        return [...(await sendChunk(inputs.slice(0, half))), ...(await sendChunk(inputs.slice(half)))];
      }
      const messageId = typeof inputs[0].messageId === 'string' ? inputs[0].messageId : null;
      return [{ status: 'REJECTED', messageId, droppedIdentifiers: 0, error: { reason: 'EVENT_TOO_LARGE', field: '', message: 'the server refused the event as larger than its request body limit' } }];
    }
    const results = (json.data?.ingestEvents as { results?: (SinkResult & { index: number })[] } | undefined)?.results;
    if (!results) throw refuse(status, json.errors);
    return results.map((r) => ({ status: r.status, messageId: r.messageId, droppedIdentifiers: r.droppedIdentifiers, error: r.error }));
  };

  return {
    target: `workspace "${who.workspace.name}" (${who.workspace.id}) at ${base.origin}`,
    workspaceId: who.workspace.id,
    workspaceName: who.workspace.name,
    role: who.role,
    async send(events) {
      const results: (SinkResult | undefined)[] = new Array(events.length);
      // Chunks keep the file order; locally rejected events simply leave a gap.
      let chunk: { index: number; input: Record<string, unknown> }[] = [];
      let chunkBytes = 0;
      const flush = async () => {
        if (!chunk.length) return;
        const sent = await sendChunk(chunk.map((c) => c.input));
        if (sent.length !== chunk.length) throw new ImportError(`${endpoint} answered ${sent.length} results for ${chunk.length} events`, 1);
        sent.forEach((r, i) => (results[chunk[i].index] = r));
        chunk = [];
        chunkBytes = 0;
      };
      for (let i = 0; i < events.length; i++) {
        const shaped = toEventInput(events[i]);
        if (!shaped.ok) {
          results[i] = { status: 'REJECTED', messageId: shaped.messageId, droppedIdentifiers: 0, error: shaped.error };
          continue;
        }
        const bytes = Buffer.byteLength(JSON.stringify(shaped.input), 'utf8') + 1;
        if (chunk.length && chunkBytes + bytes > maxBytes) await flush();
        chunk.push({ index: i, input: shaped.input });
        chunkBytes += bytes;
      }
      await flush();
      return results as SinkResult[];
    },
  };
}

type Shaped = { ok: true; input: Record<string, unknown> } | { ok: false; messageId: string | null; error: EventError };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Shapes a parsed line into a GraphQL `EventInput`: known fields only (the ingest pipeline ignores
 * others too), identifier values given as numbers as strings (as direct ingest reads them). A value
 * GraphQL cannot coerce is rejected here with the reason direct ingest gives, in its order of checks.
 */
export function toEventInput(raw: unknown): Shaped {
  const messageId = isObject(raw) && typeof raw.messageId === 'string' ? raw.messageId.trim() : null;
  const bad = (reason: string, field: string, message: string): Shaped => ({ ok: false, messageId, error: { reason, field, message } });
  if (!isObject(raw)) return bad('INVALID_EVENT', '', 'an event must be an object');
  const size = Buffer.byteLength(JSON.stringify(raw), 'utf8');
  if (size > MAX_EVENT_BYTES) return bad('EVENT_TOO_LARGE', '', `event is ${size} bytes; the limit is ${MAX_EVENT_BYTES}`);
  const optString = (v: unknown) => v === undefined || v === null || typeof v === 'string';
  if (typeof raw.messageId !== 'string') return bad('INVALID_MESSAGE_ID', 'messageId', 'messageId must be a string of 1–200 characters');
  if (typeof raw.type !== 'string') return bad('INVALID_EVENT_TYPE', 'type', `type must be one of ${EVENT_TYPES.join(', ')}`);
  if (!optString(raw.name)) return bad('INVALID_NAME', 'name', 'name must be a string of at most 200 characters');
  if (typeof raw.channel !== 'string') return bad('UNKNOWN_CHANNEL', 'channel', `unknown channel ${JSON.stringify(raw.channel) ?? 'undefined'}`);
  if (!optString(raw.timestamp)) return bad('INVALID_TIMESTAMP', 'timestamp', 'timestamp must be an ISO 8601 date-time');
  if (!Array.isArray(raw.identifiers)) return bad('NO_IDENTIFIER', 'identifiers', 'an event needs at least one identifier');
  const identifiers: Record<string, unknown>[] = [];
  for (let i = 0; i < raw.identifiers.length; i++) {
    const id: unknown = raw.identifiers[i];
    const at = `identifiers.${i}`;
    if (!isObject(id)) return bad('UNKNOWN_IDENTIFIER_TYPE', `${at}.type`, 'an identifier must be an object {type, namespace, value}');
    if (typeof id.type !== 'string') return bad('UNKNOWN_IDENTIFIER_TYPE', `${at}.type`, `unknown identifier type ${JSON.stringify(id.type) ?? 'undefined'}`);
    if (typeof id.value !== 'string' && typeof id.value !== 'number') return bad('INVALID_IDENTIFIER', `${at}.value`, 'value must be a string');
    if (!optString(id.namespace)) return bad('INVALID_IDENTIFIER', `${at}.namespace`, 'namespace must be a string');
    identifiers.push({ type: id.type, value: String(id.value), ...(id.namespace != null ? { namespace: id.namespace } : {}) });
  }
  const input: Record<string, unknown> = { messageId: raw.messageId, type: raw.type, channel: raw.channel, identifiers };
  for (const f of ['name', 'timestamp', 'traits', 'properties', 'context'] as const) if (raw[f] !== undefined) input[f] = raw[f];
  return { ok: true, input };
}

// ---- progress and report -------------------------------------------------------------------

const n = (v: number) => v.toLocaleString('en-US');

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

const rate = (s: ProgressState) => (s.elapsedMs > 0 ? Math.round(s.events / (s.elapsedMs / 1000)) : 0);

/** A progress bar for a terminal: share of the file's bytes, events, events/s and ETA. */
export function barProgress(stream: NodeJS.WritableStream = process.stderr): ImportProgress {
  const bar = new SingleBar({
    stream,
    format: 'importing [{bar}] {percentage}% | {size} | {events} events | {rate} events/s | ETA {eta_formatted}',
    barsize: 30,
    hideCursor: true,
    clearOnComplete: true,
    etaBuffer: 50,
    fps: 5,
  });
  return {
    start(total) {
      bar.start(Math.max(total, 1), 0, { events: '0', rate: '0', size: `0 B / ${size(total)}` });
    },
    update(s) {
      bar.update(s.bytesRead, { events: n(s.events), rate: n(rate(s)), size: `${size(s.bytesRead)} / ${size(s.totalBytes)}` });
    },
    stop() {
      bar.stop();
    },
  };
}

/** Progress for logs and pipes: one line at most every `everyMs`. */
export function lineProgress(stream: NodeJS.WritableStream = process.stderr, everyMs = 10_000): ImportProgress {
  let last = 0;
  return {
    start() {
      last = performance.now();
    },
    update(s) {
      const now = performance.now();
      if (now - last < everyMs) return;
      last = now;
      const pct = s.totalBytes ? Math.floor((s.bytesRead / s.totalBytes) * 100) : 100;
      const eta = s.bytesRead ? (s.elapsedMs * (s.totalBytes - s.bytesRead)) / s.bytesRead : 0;
      stream.write(
        `siyu import: ${pct}% — line ${n(s.line)}, ${n(s.events)} events (${n(s.accepted)} accepted, ${n(s.duplicates)} duplicate, ${n(s.rejected)} rejected), ${n(rate(s))} events/s, ETA ${duration(eta)}\n`,
      );
    },
    stop() {},
  };
}

/** The final report as printed by `siyu import`. */
export function formatReport(r: ImportReport): string {
  const secs = r.elapsedMs / 1000;
  const events = r.accepted + r.duplicates + r.rejected - r.invalidJson.count;
  const out = [
    `${r.stoppedAfterLine !== undefined ? 'Stopped importing' : 'Imported'} ${r.file} (${size(r.bytes)}, ${n(r.lines)} lines) in ${secs.toFixed(1)}s` +
      (secs > 0 ? ` — ${n(Math.round(events / secs))} events/s` : ''),
    `  accepted:   ${n(r.accepted)}`,
    `  duplicate:  ${n(r.duplicates)}`,
    `  rejected:   ${n(r.rejected)}`,
  ];
  if (r.invalidJson.count) {
    const shown = r.invalidJson.lines.slice(0, DEFAULT_REPORTED_REJECTIONS).join(', ');
    const more = r.invalidJson.count > DEFAULT_REPORTED_REJECTIONS ? ', …' : '';
    out.push(`  not JSON:   ${n(r.invalidJson.count)} line${r.invalidJson.count === 1 ? '' : 's'} (counted as rejected): line ${shown}${more}`);
  }
  if (r.droppedIdentifiers) out.push(`  dropped identifiers (blocked values): ${n(r.droppedIdentifiers)}`);
  if (r.rejections.length) {
    out.push('', r.rejected > r.rejections.length ? `First ${r.rejections.length} of ${n(r.rejected)} rejections:` : 'Rejections:');
    const width = String(r.rejections[r.rejections.length - 1].line).length;
    for (const x of r.rejections) {
      out.push(`  line ${String(x.line).padStart(width)}  ${x.reason}${x.field ? ` at ${x.field}` : ''}: ${x.message}`);
    }
    out.push(r.errorsFile ? `All rejections are in ${r.errorsFile} (NDJSON).` : 'Write all rejections to a file with --errors <file>.');
  }
  return out.join('\n') + '\n';
}
