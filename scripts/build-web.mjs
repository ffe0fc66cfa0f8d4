#!/usr/bin/env node
// Bundles the GraphiQL page (web/graphiql) into dist/web/graphiql/ with esbuild:
//   graphiql.js   the app (React + GraphiQL + graphql-ws), minified, production React
//   graphiql.css  GraphiQL's stylesheet plus ours; its fonts and images are inlined data: URLs
// The HTML page is written by the server (src/platform/graphql/graphiql.ts), which serves these files.
// Fails the build if the output would load anything from a CDN at run time.
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'dist/web/graphiql');
const started = performance.now();

await rm(outdir, { recursive: true, force: true });

const result = await esbuild.build({
  absWorkingDir: root,
  entryPoints: { graphiql: 'web/graphiql/main.tsx' },
  outdir,
  bundle: true,
  minify: true,
  format: 'iife',
  platform: 'browser',
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  jsx: 'automatic',
  define: { 'process.env.NODE_ENV': '"production"' },
  // Everything GraphiQL's CSS references is inlined, so a strict CSP needs no extra origin.
  loader: { '.woff': 'dataurl', '.woff2': 'dataurl', '.ttf': 'dataurl', '.svg': 'dataurl', '.png': 'dataurl' },
  legalComments: 'eof',
  charset: 'utf8',
  metafile: true,
  logLevel: 'warning',
});

// Guard: nothing in the bundle may fetch from a CDN or pull a script, style or font from elsewhere.
// Plain https:// strings (licence links, docs links, error-page URLs) are fine; these patterns are not.
const forbidden = [
  /\bunpkg\.com/i,
  /\bjsdelivr\.net/i,
  /\besm\.sh\b/i,
  /\bcdnjs\.cloudflare\.com/i,
  /\bfonts\.(googleapis|gstatic)\.com/i,
  /@import\s+url\(\s*['"]?https?:/i,
  /url\(\s*['"]?(https?:)?\/\//i,
  /importScripts\(\s*['"]https?:/i,
];
const outputs = Object.entries(result.metafile.outputs).map(([file, info]) => ({ file: path.resolve(root, file), bytes: info.bytes }));
const problems = [];
for (const { file } of outputs) {
  const text = await readFile(file, 'utf8');
  for (const pattern of forbidden) {
    const match = text.match(pattern);
    if (match) problems.push(`${path.relative(root, file)}: ${pattern} near "${text.slice(Math.max(0, match.index - 40), match.index + 60)}"`);
  }
}
if (problems.length) {
  console.error(`build-web: the bundle would load remote resources at run time:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}

const kib = (n) => `${(n / 1024).toFixed(0)} KiB`;
const seconds = ((performance.now() - started) / 1000).toFixed(1);
console.log(`build-web: ${outputs.map((o) => `${path.relative(root, o.file)} ${kib(o.bytes)}`).join(', ')} in ${seconds}s`);
