import fs from 'node:fs';
import nodePath from 'node:path';
import express from 'express';

/**
 * The GraphiQL IDE, bundled at build time by `scripts/build-web.mjs` from `web/graphiql/` into
 * `dist/web/graphiql/` (graphiql.js, graphiql.css). The page and its assets come from this server
 * only: the CSP below forbids any other origin, so nothing is fetched from a CDN at run time.
 */
export const GRAPHIQL_CSP = [
  "default-src 'self'",
  "connect-src 'self' ws: wss:",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

const ASSETS = ['graphiql.js', 'graphiql.css'] as const;

/**
 * Where the built bundle lives. Compiled, this file is `dist/src/platform/graphql/graphiql.js`, so
 * the bundle is `dist/web/graphiql`. Run from TypeScript sources (jest, ts-node) it is
 * `src/platform/graphql/graphiql.ts` and the bundle is `<repo>/dist/web/graphiql` — never
 * `<repo>/web/graphiql`, which holds the page's sources.
 */
export function graphiqlBundleDir(): string {
  const fromSources = nodePath.extname(__filename) === '.ts';
  return nodePath.resolve(__dirname, fromSources ? '../../../dist/web/graphiql' : '../../../web/graphiql');
}

function bundleBuilt(dir: string): boolean {
  return ASSETS.every((file) => fs.existsSync(nodePath.join(dir, file)));
}

function escapeAttribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Assets are referenced relative to the page, which is always served at `<path>/`. */
function renderPage(endpoint: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Siyu · GraphiQL</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="./graphiql.css">
<script defer src="./graphiql.js"></script>
</head>
<body>
<div id="siyu-root" data-endpoint="${escapeAttribute(endpoint)}"></div>
<noscript>GraphiQL needs JavaScript.</noscript>
</body>
</html>
`;
}

/**
 * Serves GraphiQL at `path/` (a request for `path` is redirected there, so the page's relative
 * asset URLs resolve under it) talking to `endpoint` (HTTP, and graphql-ws on the same URL).
 * Without a built bundle the page answers 503 instead of a broken page.
 */
export function mountGraphiql(app: express.Express, path: string, endpoint: string): void {
  const dir = graphiqlBundleDir();
  const page = renderPage(endpoint);
  const securityHeaders = (res: express.Response) => {
    res.setHeader('Content-Security-Policy', GRAPHIQL_CSP);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
  };

  // Non-strict routing: this matches both `path` and `path/`.
  app.get(path, (req, res) => {
    const url = new URL(req.originalUrl, 'http://localhost');
    if (!url.pathname.endsWith('/')) {
      // Relative Location, so it also works behind a proxy that mounts Siyu under a prefix.
      res.redirect(302, `${nodePath.posix.basename(url.pathname)}/${url.search}`);
      return;
    }
    if (!bundleBuilt(dir)) {
      res.status(503).type('text/plain').send('GraphiQL bundle not built: run npm run build\n');
      return;
    }
    securityHeaders(res);
    res.setHeader('Cache-Control', 'no-cache');
    res.type('html').send(page);
  });
  app.use(
    path,
    express.static(dir, {
      index: false,
      redirect: false,
      dotfiles: 'ignore',
      setHeaders: (res) => {
        securityHeaders(res);
        res.setHeader('Cache-Control', 'no-cache');
      },
    }),
  );
}
