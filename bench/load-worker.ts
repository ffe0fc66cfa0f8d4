/**
 * The load generator, run as a child process (`fork`) so that it never shares an event loop with
 * the server under test (Siyu or the bare handler, both in the parent). It receives one job per
 * message and answers with one result.
 *
 * - `closed`: autocannon, N connections each sending the next request as soon as the previous one
 *   answers (closed loop: measures the maximum rate), rotating through the given bodies.
 * - `open`: a fixed arrival rate regardless of how fast answers come (open loop). Latency is
 *   measured from each request's *intended* send time into an HDR histogram, so a stalled server
 *   is not hidden by the generator waiting for it (no coordinated omission).
 */
import http from 'node:http';
import autocannon from 'autocannon';
import * as hdr from 'hdr-histogram-js';

export interface LoadTarget {
  url: string;
  path: string;
  headers: Record<string, string>;
  /** Request bodies, used in turn. */
  bodies: string[];
  /** A body is a success when it contains this and no GraphQL `"errors"`. */
  expect: string;
  /** Replaced in every body by a value unique to the request (e.g. a messageId): no two requests alike. */
  unique?: string;
}

let jobSeq = 0;
/** The body of the `n`-th request of a job: the given bodies in turn, with `unique` made unique. */
function bodyOf(job: LoadTarget, run: string, n: number): string {
  const b = job.bodies[n % job.bodies.length];
  return job.unique ? b.split(job.unique).join(`${run}-${n}`) : b;
}

export interface ClosedJob extends LoadTarget {
  kind: 'closed';
  connections: number;
  durationSec: number;
}

export interface OpenJob extends LoadTarget {
  kind: 'open';
  rate: number;
  durationSec: number;
}

export interface ClosedResult {
  kind: 'closed';
  requests: number;
  durationSec: number;
  rps: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  mismatches: number;
}

export interface OpenResult {
  kind: 'open';
  rate: number;
  sent: number;
  completed: number;
  failed: number;
  latencyMs: { p50: number; p90: number; p99: number; p999: number; max: number; mean: number };
}

export type Job = ClosedJob | OpenJob;
export type JobResult = ClosedResult | OpenResult;

function ok(body: string, expect: string): boolean {
  return body.includes(expect) && !body.includes('"errors"');
}

async function closed(job: ClosedJob): Promise<ClosedResult> {
  let i = 0;
  const run = `${process.pid}-${Date.now().toString(36)}-${jobSeq++}`;
  const r = await autocannon({
    url: job.url,
    connections: job.connections,
    duration: job.durationSec,
    requests: [
      {
        method: 'POST',
        path: job.path,
        headers: job.headers,
        setupRequest: (req) => ({ ...req, body: bodyOf(job, run, i++) }),
      },
    ],
    verifyBody: (body) => ok(String(body ?? ''), job.expect),
  });
  const total = r.requests.total;
  return {
    kind: 'closed',
    requests: total,
    durationSec: r.duration,
    rps: total / r.duration,
    latencyMs: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max, mean: r.latency.mean },
    errors: r.errors,
    timeouts: r.timeouts,
    non2xx: r.non2xx,
    mismatches: (r as unknown as { mismatches?: number }).mismatches ?? 0,
  };
}

async function open(job: OpenJob): Promise<OpenResult> {
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
  const target = new URL(job.path, job.url);
  const interval = 1000 / job.rate;
  const total = Math.round(job.rate * job.durationSec);
  let sent = 0;
  let completed = 0;
  let failed = 0;
  const run = `${process.pid}-${Date.now().toString(36)}-${jobSeq++}`;
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    const finish = () => {
      if (sent === total && completed + failed === total) resolve();
    };
    const fire = (intended: number) => {
      const body = bodyOf(job, run, sent);
      sent++;
      const req = http.request(
        target,
        { method: 'POST', agent, headers: { ...job.headers, 'content-length': Buffer.byteLength(body) } },
        (res) => {
          let data = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (data += c));
          res.on('end', () => {
            // Microseconds from the intended start, so queueing behind a slow answer counts.
            histogram.recordValue(Math.max(1, Math.round((performance.now() - intended) * 1000)));
            if (res.statusCode === 200 && ok(data, job.expect)) completed++;
            else failed++;
            finish();
          });
        },
      );
      req.on('error', () => {
        failed++;
        finish();
      });
      req.end(body);
    };
    const tick = () => {
      const due = Math.min(total, Math.floor((performance.now() - t0) / interval) + 1);
      while (sent < due) fire(t0 + sent * interval);
      if (sent < total) setTimeout(tick, Math.max(0, Math.min(5, t0 + sent * interval - performance.now())));
    };
    tick();
  });
  agent.destroy();
  const ms = (p: number) => histogram.getValueAtPercentile(p) / 1000;
  const result: OpenResult = {
    kind: 'open',
    rate: job.rate,
    sent,
    completed,
    failed,
    latencyMs: { p50: ms(50), p90: ms(90), p99: ms(99), p999: ms(99.9), max: histogram.maxValue / 1000, mean: histogram.mean / 1000 },
  };
  histogram.destroy();
  return result;
}

// The parent went away (finished, crashed or interrupted): so does the generator.
process.on('disconnect', () => process.exit(0));

process.on('message', (job: Job) => {
  const run = job.kind === 'closed' ? closed(job) : open(job);
  run.then(
    (result) => process.send!({ ok: true, result }),
    (err: unknown) => process.send!({ ok: false, error: err instanceof Error ? err.stack ?? err.message : String(err) }),
  );
});
