import { CreateApiKeyDocument, IngestDocument, type EventInput } from '../generated/graphql';
import type { TestApp } from './app';

/** Ingests through GraphQL and expects no error and no rejected event; the per-event results. */
export async function ingestAccepted(t: TestApp, key: string, events: EventInput[]) {
  const r = await t.gql(IngestDocument, { events }, key);
  expect(r.errors).toBeUndefined();
  expect(r.data!.ingestEvents.rejected).toBe(0);
  return r.data!.ingestEvents.results;
}

/** A READ key of the admin key's workspace, with or without the PII scope. */
export async function createReadKey(t: TestApp, adminKey: string, pii: boolean): Promise<string> {
  const { data } = await t.gql(CreateApiKeyDocument, { input: { role: 'READ', name: 'console', pii } }, adminKey);
  return data!.createApiKey.key;
}
