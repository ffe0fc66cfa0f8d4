import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { rng } from '../../src/shared/random';

/** What the receiver does with one request. */
export type Behaviour = 'ok' | 'error500' | 'reset' | 'hang';

export interface Received {
  path: string;
  /** The delivery id the request carries (webhook `id`, robots' `Siyu #<id>`). */
  id: string;
  body: Record<string, unknown>;
  behaviour: Behaviour;
  /** The signature (webhook, DingTalk, Feishu) verified with the path's secret; null when unsigned. */
  signatureOk: boolean | null;
}

/** One line of the receiver's log, in arrival order: a request arrived, or it was answered 200. */
export interface LogLine {
  path: string;
  id: string;
  what: 'received' | 'acked';
}

/**
 * A local HTTP endpoint on 127.0.0.1 that plays the four destination formats' receivers: it
 * verifies each request's signature, and answers 200 (with the robots' success body), 500, resets
 * the connection or never answers, as `decide` says (seeded random by default).
 */
export class Receiver {
  readonly received: Received[] = [];
  readonly log: LogLine[] = [];
  readonly secrets = new Map<string, string>();
  private server!: http.Server;
  private readonly hung = new Set<http.ServerResponse>();
  url = '';
  decide: (path: string, id: string) => Behaviour;

  constructor(seed = 18, probabilities = { error500: 0.2, reset: 0.1, hang: 0.1 }) {
    const r = rng(seed);
    this.decide = () => {
      const x = r.next();
      if (x < probabilities.error500) return 'error500';
      if (x < probabilities.error500 + probabilities.reset) return 'reset';
      if (x < probabilities.error500 + probabilities.reset + probabilities.hang) return 'hang';
      return 'ok';
    };
  }

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => {
      let raw = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (raw += c));
      req.on('end', () => this.handle(req, res, raw));
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    for (const r of this.hung) r.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Ids answered 200 per path, first answers only, in order. */
  ackedIds(path: string): string[] {
    const seen = new Set<string>();
    const out: string[] = [];
    for (const l of this.log) {
      if (l.path !== path || l.what !== 'acked' || seen.has(l.id)) continue;
      seen.add(l.id);
      out.push(l.id);
    }
    return out;
  }

  /**
   * Order violations on a path: a request for item X that arrived before every earlier item of
   * `expected` (all delivered items of the destination, by id) had been answered 200.
   */
  orderViolations(path: string, expected: string[]): string[] {
    const rank = new Map(expected.map((id, i) => [id, i]));
    const acked = new Set<string>();
    const out: string[] = [];
    for (const l of this.log) {
      if (l.path !== path) continue;
      if (l.what === 'acked') acked.add(l.id);
      else {
        const i = rank.get(l.id);
        if (i === undefined) continue;
        const missing = expected.slice(0, i).filter((e) => !acked.has(e));
        if (missing.length) out.push(`${l.id} arrived before ${missing.join(',')} was delivered`);
      }
    }
    return out;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse, raw: string): void {
    const u = new URL(req.url ?? '/', 'http://x');
    const path = u.pathname;
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      // recorded with an empty body: the test fails on its missing id
    }
    const text = String((body.markdown as { content?: string; text?: string } | undefined)?.content ?? (body.markdown as { text?: string } | undefined)?.text ?? (body.content as { text?: string } | undefined)?.text ?? '');
    const id = typeof body.id === 'string' ? body.id : (/Siyu #(\d+)/.exec(text)?.[1] ?? '?');
    const secret = this.secrets.get(path);
    let signatureOk: boolean | null = null;
    if (secret) {
      if (body.msgtype === 'markdown' && u.searchParams.has('sign')) {
        const ts = u.searchParams.get('timestamp')!;
        signatureOk = u.searchParams.get('sign') === createHmac('sha256', secret).update(`${ts}\n${secret}`).digest('base64');
      } else if (body.msg_type) {
        signatureOk = body.sign === createHmac('sha256', `${String(body.timestamp)}\n${secret}`).update('').digest('base64');
      } else {
        const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(req.headers['x-siyu-signature'] ?? ''));
        signatureOk = !!m && m[2] === createHmac('sha256', secret).update(`${m[1]}.${raw}`).digest('hex') && Math.abs(Date.now() / 1000 - Number(m[1])) < 300;
      }
    }
    const behaviour = this.decide(path, id);
    this.received.push({ path, id, body, behaviour, signatureOk });
    this.log.push({ path, id, what: 'received' });
    if (behaviour === 'error500') {
      res.statusCode = 500;
      res.end('{"error":"boom"}');
    } else if (behaviour === 'reset') {
      req.socket.destroy();
    } else if (behaviour === 'hang') {
      this.hung.add(res);
      res.on('close', () => this.hung.delete(res));
    } else {
      this.log.push({ path, id, what: 'acked' });
      res.setHeader('content-type', 'application/json');
      res.end(body.msg_type ? '{"code":0,"msg":"success"}' : body.msgtype ? '{"errcode":0,"errmsg":"ok"}' : '{}');
    }
  }
}
