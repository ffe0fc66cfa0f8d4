#!/usr/bin/env node
// Bundles the browser pages with esbuild (`node scripts/build-web.mjs [graphiql|dashboard ...]`,
// default both):
//   dist/web/graphiql/graphiql.js, graphiql.css   GraphiQL (React + GraphiQL + graphql-ws), minified,
//                                                  production React; fonts and images inlined as data: URLs
//   dist/web/dashboard/assets/dashboard.js, .css   the live dashboard (web/dashboard: TypeScript DOM
//                                                  code, chart.js, graphql-ws); needs `npm run codegen`
//                                                  first for web/dashboard/generated/graphql.ts
// The HTML pages are written by the server (src/platform/graphql/graphiql.ts and dashboard.ts),
// which serves these files. Fails the build if the output would load anything from a CDN at run time.
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const started = performance.now();

const common = {
  absWorkingDir: root,
  bundle: true,
  minify: true,
  format: 'iife',
  platform: 'browser',
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  define: { 'process.env.NODE_ENV': '"production"' },
  legalComments: 'eof',
  charset: 'utf8',
  metafile: true,
  logLevel: 'warning',
};

const pages = {
  graphiql: {
    cleanDir: 'dist/web/graphiql',
    options: {
      entryPoints: { graphiql: 'web/graphiql/main.tsx' },
      outdir: path.join(root, 'dist/web/graphiql'),
      jsx: 'automatic',
      // Everything GraphiQL's CSS references is inlined, so a strict CSP needs no extra origin.
      loader: { '.woff': 'dataurl', '.woff2': 'dataurl', '.ttf': 'dataurl', '.svg': 'dataurl', '.png': 'dataurl' },
    },
  },
  dashboard: {
    cleanDir: 'dist/web/dashboard',
    before() {
      if (!existsSync(path.join(root, 'web/dashboard/generated/graphql.ts'))) {
        console.error('build-web: web/dashboard/generated/graphql.ts is missing: run npm run codegen first');
        process.exit(1);
      }
    },
    options: {
      entryPoints: { dashboard: 'web/dashboard/main.ts' },
      outdir: path.join(root, 'dist/web/dashboard/assets'),
      // graphql-ws has a browser entry; never pull Node's `ws` into the page.
      mainFields: ['browser', 'module', 'main'],
      conditions: ['browser'],
    },
  },
};

const wanted = process.argv.slice(2);
for (const name of wanted) {
  if (!(name in pages)) {
    console.error(`build-web: unknown page "${name}" (known: ${Object.keys(pages).join(', ')})`);
    process.exit(1);
  }
}
const outputs = [];
for (const [name, page] of Object.entries(pages)) {
  if (wanted.length && !wanted.includes(name)) continue;
  page.before?.();
  await rm(path.join(root, page.cleanDir), { recursive: true, force: true });
  const result = await esbuild.build({ ...common, ...page.options });
  outputs.push(...Object.entries(result.metafile.outputs).map(([file, info]) => ({ file: path.resolve(root, file), bytes: info.bytes })));
}
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
