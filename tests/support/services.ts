import net from 'node:net';

/** True when something accepts TCP connections at host:port within the timeout. */
export function reachable(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export async function redisAvailable(): Promise<boolean> {
  const u = new URL(REDIS_URL);
  return reachable(u.hostname, Number(u.port || 6379));
}

/**
 * Tests that need a service run whenever it is there, and are skipped with a printed reason when it
 * is not. With SIYU_REQUIRE_SERVICES=1 (CI), a missing service fails instead of skipping.
 */
export function skipReason(reason: string): string {
  if (process.env.SIYU_REQUIRE_SERVICES === '1') {
    throw new Error(`Required for this run but unavailable: ${reason}`);
  }
  process.stdout.write(`\n  SKIPPED: ${reason}\n`);
  return reason;
}
