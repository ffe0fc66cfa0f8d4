import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { acquireDirLock } from '../../src/platform/db/dir-lock';

describe('data directory lock', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'siyu-dirlock-'));
    file = path.join(dir, 'data.lock');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('is exclusive while held, even within one process, and free after release', () => {
    const release = acquireDirLock(file)!;
    expect(release).toBeInstanceOf(Function);
    expect(acquireDirLock(file)).toBeNull();
    release();
    expect(fs.existsSync(file)).toBe(false);
    const again = acquireDirLock(file);
    expect(again).not.toBeNull();
    again!();
  });

  it('is taken over when its owner process is gone', () => {
    fs.writeFileSync(file, JSON.stringify({ pid: 2 ** 22 + 12345, host: os.hostname(), at: new Date().toISOString() }));
    const release = acquireDirLock(file);
    expect(release).not.toBeNull();
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).pid).toBe(process.pid);
    release!();
  });

  it('is never taken from a live owner, however long it has held it', () => {
    fs.writeFileSync(file, JSON.stringify({ pid: process.ppid, host: os.hostname(), at: '2000-01-01T00:00:00Z' }));
    fs.utimesSync(file, new Date(0), new Date(0));
    expect(acquireDirLock(file)).toBeNull();
  });

  it('takes over a lock left by an earlier run with our own pid (restarted container)', () => {
    fs.writeFileSync(file, JSON.stringify({ pid: process.pid, host: os.hostname(), at: '2000-01-01T00:00:00Z' }));
    const release = acquireDirLock(file);
    expect(release).not.toBeNull();
    release!();
  });
});
