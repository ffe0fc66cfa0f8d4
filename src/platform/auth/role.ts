import { registerEnumType } from 'type-graphql';

/** What an API key may do (DESIGN.md §6). */
export enum Role {
  INGEST = 'ingest',
  READ = 'read',
  ANALYST = 'analyst',
  ADMIN = 'admin',
}

registerEnumType(Role, {
  name: 'ApiKeyRole',
  description: 'The one role an API key carries.',
  valuesConfig: {
    INGEST: { description: 'Write events only (safe to ship inside an app or mini program). Cannot read.' },
    READ: { description: 'Frontends: read profiles, tags, journeys and health. Personal data masked unless the key has `pii`.' },
    ANALYST: { description: 'BI and dashboards: aggregates and KPIs only, never personal data.' },
    ADMIN: { description: 'Everything in the workspace: configuration, keys, erasure, unmasked personal data.' },
  },
});
