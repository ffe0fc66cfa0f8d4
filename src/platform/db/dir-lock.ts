import fs from 'node:fs';
import os from 'node:os';

/** Lock files this process holds (a restarted container may reuse the pid of a dead owner). */
const held = new Set<string>();

interface Owner {
  pid: number;
  host: string;
  at: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readOwner(file: string): Owner | null {
  try {
    const o = JSON.parse(fs.readFileSync(file, 'utf8'));
    return typeof o?.pid === 'number' && typeof o?.host === 'string' ? o : null;
  } catch {
    return null;
  }
}

/**
 * An exclusive lock on a data directory, as a lock file created with O_EXCL holding the owner's pid.
 * A lock whose owner process is gone (same host) is taken over, so a crash never wedges the
 * directory; a live owner — even one whose event loop is busy for minutes — is never overridden.
 * Returns the release function, or null when another live process holds it.
 */
export function acquireDirLock(file: string): (() => void) | null {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = fs.openSync(file, 'wx', 0o600);
      fs.writeSync(fd, JSON.stringify({ pid: process.pid, host: os.hostname(), at: new Date().toISOString() }));
      fs.closeSync(fd);
      held.add(file);
      return () => {
        held.delete(file);
        if (readOwner(file)?.pid === process.pid) fs.rmSync(file, { force: true });
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const owner = readOwner(file);
      if (!owner) {
        // Being written right now, or garbage: stale only when old.
        const age = Date.now() - fs.statSync(file).mtimeMs;
        if (age < 10_000) return null;
      } else {
        const mine = owner.pid === process.pid;
        if (owner.host !== os.hostname()) return null;
        if (mine ? held.has(file) : alive(owner.pid)) return null;
      }
      fs.rmSync(file, { force: true });
    }
  }
  return null;
}
