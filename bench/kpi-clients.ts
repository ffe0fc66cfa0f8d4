/**
 * WebSocket clients of the live-KPI fan-out case (bench/cases/kpi-fanout.ts), one of several child
 * processes (a process may hold at most 20,000 open files). One subscription per socket.
 *
 * - `siyu`: graphql-ws (`graphql-transport-ws`) with a READ key in `connectionParams.authorization`,
 *   one `kpiUpdated` subscription; records per socket every `next` message's version, the value of
 *   the first metric's newest point, and the receipt time (ms since the epoch, sub-millisecond).
 * - `bare`: a plain `ws` socket; the server's frames carry `sentAt`; records receipt − sentAt.
 *
 * Parent → child: `connect`, then `stop`. Child → parent: `connected`, then `result`.
 */
import WebSocket from 'ws';

export interface ConnectJob {
  op: 'connect';
  mode: 'siyu' | 'bare';
  url: string;
  /** One API key per socket (Siyu), in order; its length is the number of sockets. */
  keys: string[];
  query: string;
  /** Sockets opening at once. */
  concurrency: number;
}

export interface Connected {
  op: 'connected';
  open: number;
  failed: number;
  /** Siyu: sockets that received their first value (the subscription is live). */
  live: number;
  errors: string[];
}

export interface SiyuRecords {
  /** Per socket: versions, values and receipt times of every message, in arrival order. */
  versions: number[][];
  values: (number | null)[][];
  times: number[][];
  frameBytes: number[];
}

export interface ClientResult {
  op: 'result';
  siyu?: SiyuRecords;
  /** Bare: receipt − sentAt of every frame at every socket, and frames per socket. */
  bare?: { latencies: number[]; perSocket: number[] };
  errors: string[];
  closedEarly: number;
}

const now = () => performance.timeOrigin + performance.now();

const sockets: WebSocket[] = [];
const errors: string[] = [];
let closedEarly = 0;
let stopping = false;
const note = (e: string) => {
  if (errors.length < 20) errors.push(e);
};

let siyu: SiyuRecords | undefined;
let bare: { latencies: number[]; perSocket: number[] } | undefined;

function openSiyu(url: string, key: string, query: string, i: number, onLive: () => void): Promise<boolean> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, 'graphql-transport-ws');
    sockets.push(ws);
    let settled = false;
    let live = false;
    const settle = (ok: boolean) => {
      if (!settled) {
        settled = true;
        resolve(ok);
      }
    };
    ws.on('open', () => {
      ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${key}` } }));
      settle(true);
    });
    ws.on('message', (data: Buffer) => {
      const t = now();
      const s = data.toString('utf8');
      const m = JSON.parse(s) as { type: string; payload?: { data?: { kpiUpdated?: { version: number; results: { total: { points: { value: number | null }[] } }[] } }; errors?: unknown } };
      if (m.type === 'connection_ack') ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query } }));
      else if (m.type === 'ping') ws.send(JSON.stringify({ type: 'pong' }));
      else if (m.type === 'next') {
        const u = m.payload?.data?.kpiUpdated;
        if (!u) {
          note(`next without data: ${s.slice(0, 300)}`);
          return;
        }
        const pts = u.results[0].total.points;
        siyu!.versions[i].push(u.version);
        siyu!.values[i].push(pts[pts.length - 1].value);
        siyu!.times[i].push(t);
        if (siyu!.frameBytes.length < 50) siyu!.frameBytes.push(data.length);
        if (!live) {
          live = true;
          onLive();
        }
      } else if (m.type === 'error' || m.type === 'complete') note(`${m.type}: ${s.slice(0, 300)}`);
    });
    ws.on('error', (err) => {
      note(`socket error: ${err.message}`);
      settle(false);
    });
    ws.on('close', (code, reason) => {
      if (!stopping) {
        closedEarly++;
        note(`closed ${code} ${reason.toString()}`);
      }
      settle(false);
    });
  });
}

function openBare(url: string, i: number): Promise<boolean> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    sockets.push(ws);
    ws.on('open', () => resolve(true));
    ws.on('message', (data: Buffer) => {
      const t = now();
      const m = JSON.parse(data.toString('utf8')) as { sentAt: number };
      bare!.latencies.push(t - m.sentAt);
      bare!.perSocket[i]++;
    });
    ws.on('error', (err) => {
      note(`socket error: ${err.message}`);
      resolve(false);
    });
    ws.on('close', () => {
      if (!stopping) closedEarly++;
      resolve(false);
    });
  });
}

async function connect(job: ConnectJob): Promise<Connected> {
  const n = job.keys.length;
  let live = 0;
  if (job.mode === 'siyu') siyu = { versions: Array.from({ length: n }, () => []), values: Array.from({ length: n }, () => []), times: Array.from({ length: n }, () => []), frameBytes: [] };
  else bare = { latencies: [], perSocket: new Array<number>(n).fill(0) };
  let next = 0;
  let open = 0;
  let failed = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const ok = job.mode === 'siyu' ? await openSiyu(job.url, job.keys[i], job.query, i, () => live++) : await openBare(job.url, i);
      if (ok) open++;
      else failed++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(job.concurrency, n) }, worker));
  if (job.mode === 'siyu') {
    // Wait (bounded) until every open socket has its first value.
    const deadline = Date.now() + 60_000;
    while (live < open && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  }
  return { op: 'connected', open, failed, live: job.mode === 'siyu' ? live : open, errors: [...errors] };
}

async function stop(): Promise<ClientResult> {
  stopping = true;
  for (const ws of sockets) ws.terminate();
  sockets.length = 0;
  const r: ClientResult = { op: 'result', siyu, bare, errors: [...errors], closedEarly };
  siyu = undefined;
  bare = undefined;
  errors.length = 0;
  closedEarly = 0;
  stopping = false;
  return r;
}

process.on('disconnect', () => process.exit(0));
process.on('message', (m: ConnectJob | { op: 'stop' }) => {
  const run: Promise<Connected | ClientResult> = m.op === 'connect' ? connect(m) : stop();
  run.then(
    (r) => process.send!(r),
    (err: unknown) => process.send!({ op: 'failed', error: err instanceof Error ? err.stack ?? err.message : String(err) }),
  );
});
