'use strict';
/**
 * Preloaded into a server process (`NODE_OPTIONS=--require …`) by tests that bound how long one piece
 * of work holds the server's event loop (tests/integration/hostile-flood.test.ts). With async_hooks
 * it times every outermost callback and promise job — a stretch of synchronous JavaScript (and of the
 * embedded database's WebAssembly, which runs on the same thread) between two returns to the event
 * loop — and appends each one longer than 20 ms to the file named by SIYU_TEST_TASK_LOG as
 * `<start, ms since the epoch> <duration ms> <resource type>`. The event-loop delay a server reports
 * is a different figure: the sum of the tasks that happened to run back to back before a timer could
 * fire (several requests' tasks, plus garbage collection between them).
 */
const { createHook } = require('node:async_hooks');
const fs = require('node:fs');

const out = process.env.SIYU_TEST_TASK_LOG;
if (out) {
  const types = new Map();
  let depth = 0;
  let start = 0;
  let type = '';
  createHook({
    init(id, t) {
      types.set(id, t);
    },
    before(id) {
      if (depth++ === 0) {
        start = performance.now();
        type = types.get(id) ?? '?';
      }
    },
    after() {
      if (--depth !== 0) return;
      const ms = performance.now() - start;
      if (ms > 20) fs.appendFileSync(out, `${Math.round(performance.timeOrigin + start)} ${ms.toFixed(1)} ${type}\n`);
    },
    destroy(id) {
      types.delete(id);
    },
  }).enable();
}
