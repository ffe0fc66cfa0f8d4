import type express from 'express';

/** Placeholder replaced by the bundled GraphiQL (see web/graphiql). */
export function mountGraphiql(app: express.Express, path: string, endpoint: string): void {
  app.get(path, (_req, res) => {
    res.type('html').send(`<!doctype html><title>Siyu</title><p>GraphQL endpoint: ${endpoint}</p>`);
  });
}
