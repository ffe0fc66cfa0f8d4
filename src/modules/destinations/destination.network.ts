import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';

/**
 * Addresses a destination may not reach unless an ADMIN set `allowPrivateNetwork`: loopback,
 * private, link-local, carrier-grade NAT, "this network" and unique-local ranges (IPv4-mapped IPv6
 * addresses are checked as IPv4).
 */
const BLOCKED = new net.BlockList();
for (const [a, p] of [['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12], ['192.168.0.0', 16]] as const) BLOCKED.addSubnet(a, p, 'ipv4');
for (const [a, p] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10]] as const) BLOCKED.addSubnet(a, p, 'ipv6');

export function isPrivateAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return BLOCKED.check(mapped[1], 'ipv4');
  const family = net.isIP(address);
  if (family === 4) return BLOCKED.check(address, 'ipv4');
  if (family === 6) return BLOCKED.check(address, 'ipv6');
  return true;
}

/** The host of a URL without IPv6 brackets. */
export const hostOf = (u: URL) => u.hostname.replace(/^\[|\]$/g, '');

/** Every address the host resolves to (an IP literal resolves to itself); empty when it does not resolve. */
export async function resolveHost(host: string): Promise<string[]> {
  if (net.isIP(host)) return [host];
  try {
    return (await dns.promises.lookup(host, { all: true, verbatim: true })).map((a) => a.address);
  } catch {
    return [];
  }
}

export interface HttpResult {
  /** HTTP status, or null when no response came (timeout, refused, reset, blocked address). */
  status: number | null;
  /** At most 4 KiB of the response body. */
  body: string;
  error: string | null;
}

/**
 * One POST with a hard deadline: `timeoutMs` covers connecting, sending and reading the response.
 * The connection resolves its host through a lookup that refuses private addresses (unless
 * allowed), so a name that re-resolves to a private address after it was checked is refused too.
 */
export function post(url: URL, body: string, headers: Record<string, string>, timeoutMs: number, allowPrivate: boolean): Promise<HttpResult> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: HttpResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const lookup: net.LookupFunction = (hostname, options, cb) => {
      dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
        if (err) return cb(err, '', 4);
        const list = addresses as unknown as dns.LookupAddress[];
        const bad = list.find((a) => !allowPrivate && isPrivateAddress(a.address));
        if (bad) return cb(Object.assign(new Error(`refused: ${hostname} resolves to a private address`), { code: 'EPRIVATE' }), '', 4);
        if ((options as { all?: boolean }).all) return (cb as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, list);
        cb(null, list[0].address, list[0].family);
      });
    };
    const host = hostOf(url);
    if (net.isIP(host) && !allowPrivate && isPrivateAddress(host)) return done({ status: null, body: '', error: `refused: ${host} is a private address` });
    const mod = url.protocol === 'https:' ? https : http;
    const req = mod.request(url, { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(body)), 'user-agent': 'Siyu-Destinations/1', ...headers }, lookup, timeout: timeoutMs }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        if (text.length < 4096) text += c;
      });
      res.on('end', () => done({ status: res.statusCode ?? null, body: text.slice(0, 4096), error: null }));
      res.on('error', (e) => done({ status: res.statusCode ?? null, body: text, error: e.message }));
    });
    const timer = setTimeout(() => {
      req.destroy(new Error(`timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    req.on('timeout', () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)));
    req.on('error', (e) => done({ status: null, body: '', error: e.message }));
    req.end(body);
  });
}
