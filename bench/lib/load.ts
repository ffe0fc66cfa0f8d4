import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Job, JobResult } from '../load-worker';

/** The load generator in a child process (see load-worker.ts); one job at a time. */
export class LoadGenerator {
  private readonly child: ChildProcess;

  constructor() {
    this.child = fork(path.join(__dirname, '..', 'load-worker.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  }

  run<R extends JobResult>(job: Job): Promise<R> {
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`load generator exited (${code})`));
      this.child.once('exit', onExit);
      this.child.once('message', (m: { ok: true; result: R } | { ok: false; error: string }) => {
        this.child.off('exit', onExit);
        if (m.ok) resolve(m.result);
        else reject(new Error(`load generator failed: ${m.error}`));
      });
      this.child.send(job);
    });
  }

  close(): void {
    this.child.kill();
  }
}
