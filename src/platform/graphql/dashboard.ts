import fs from 'node:fs';
import nodePath from 'node:path';
import express from 'express';

/**
 * The live dashboard, bundled at build time by `scripts/build-web.mjs` from `web/dashboard/` into
 * `dist/web/dashboard/assets/` (dashboard.js, dashboard.css). The page and its assets come from this
 * server only: the CSP below allows no other origin (no inline script or style either), so nothing
 * is fetched from a CDN at run time; the page talks to GraphQL over HTTP and graphql-ws.
 */
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self' ws: wss:",
  "img-src 'self' data:",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const ASSETS = ['dashboard.js', 'dashboard.css'] as const;

/**
 * Where the built assets live. Compiled, this file is `dist/src/platform/graphql/dashboard.js`, so
 * they are in `dist/web/dashboard/assets`; run from TypeScript sources (jest) it is
 * `src/platform/graphql/dashboard.ts` and they are in `<repo>/dist/web/dashboard/assets` — never
 * `<repo>/web/dashboard`, which holds the page's sources.
 */
export function dashboardAssetsDir(): string {
  const fromSources = nodePath.extname(__filename) === '.ts';
  return nodePath.resolve(__dirname, fromSources ? '../../../dist/web/dashboard/assets' : '../../../web/dashboard/assets');
}

function assetsBuilt(dir: string): boolean {
  return ASSETS.every((file) => fs.existsSync(nodePath.join(dir, file)));
}

function escapeAttribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Assets and the endpoint are relative to the page (always served at `<path>/`), so a proxy prefix works. */
function renderPage(endpoint: string): string {
  return `<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Siyu · 私域看板 Dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="./assets/dashboard.css">
<script defer src="./assets/dashboard.js"></script>
</head>
<body>
<div id="siyu-dashboard" data-endpoint="${escapeAttribute(endpoint)}"></div>
<noscript>The dashboard needs JavaScript. 看板需要启用 JavaScript。</noscript>
</body>
</html>
`;
}

/**
 * Serves the dashboard at `path/` (a request for `path` is redirected there) and its assets under
 * `path/assets/`, talking to `endpoint` (relative to the page; HTTP, and graphql-ws on the same URL).
 * Without a built bundle the page answers 503 instead of a broken page.
 */
export function mountDashboard(app: express.Express, path: string, endpoint: string): void {
  const dir = dashboardAssetsDir();
  const page = renderPage(endpoint);
  const securityHeaders = (res: express.Response) => {
    res.setHeader('Content-Security-Policy', DASHBOARD_CSP);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Cache-Control', 'no-cache');
  };

  // Non-strict routing: this matches both `path` and `path/`.
  app.get(path, (req, res) => {
    const url = new URL(req.originalUrl, 'http://localhost');
    if (!url.pathname.endsWith('/')) {
      res.redirect(302, `${nodePath.posix.basename(url.pathname)}/${url.search}`);
      return;
    }
    if (!assetsBuilt(dir)) {
      res.status(503).type('text/plain').send('Dashboard bundle not built: run npm run build\n');
      return;
    }
    securityHeaders(res);
    res.type('html').send(page);
  });
  app.use(`${path}/assets`, express.static(dir, { index: false, redirect: false, dotfiles: 'ignore', setHeaders: securityHeaders }));
}
