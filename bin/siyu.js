#!/usr/bin/env node
'use strict';
// The `siyu` command: runs the compiled CLI (dist/src/cli/siyu.js), which `npm run build` produces.
const fs = require('node:fs');
const path = require('node:path');

const entry = path.join(__dirname, '..', 'dist', 'src', 'cli', 'siyu.js');
if (!fs.existsSync(entry)) {
  process.stderr.write('siyu: the CLI is not built yet: run `npm run build` in ' + path.resolve(__dirname, '..') + '\n');
  process.exit(1);
}
let cli;
try {
  cli = require(entry);
} catch (err) {
  // commander is an ES module; require() of ES modules needs Node 20.19+ (or 22.12+).
  if (err && err.code === 'ERR_REQUIRE_ESM') {
    process.stderr.write('siyu: needs Node.js 20.19 or newer (this is ' + process.version + ')\n');
    process.exit(1);
  }
  throw err;
}
cli.run(process.argv);
