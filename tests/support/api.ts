import { CreateApiKeyDocument, IngestDocument, type EventInput, type IngestMutation } from '../generated/graphql';
import type { TestApp } from './app';
import { makeEvent } from './events';

export type IngestResult = IngestMutation['ingestEvents'];

/**
 * Ingests through GraphQL and expects no GraphQL error and exactly the given number of rejected and
 * duplicate events (none unless the test is about them); the batch's result.
 */
export async function ingest(t: TestApp, key: string, events: EventInput[], expected: { rejected?: number; duplicates?: number } = {}): Promise<IngestResult> {
  const r = await t.gql(IngestDocument, { events }, key);
  expect(r.errors).toBeUndefined();
  const result = r.data!.ingestEvents;
  expect({ rejected: result.rejected, duplicates: result.duplicates }).toEqual({ rejected: expected.rejected ?? 0, duplicates: expected.duplicates ?? 0 });
  return result;
}

/** Ingests one event (`makeEvent` with these identifiers and overrides) and returns its profile id. */
export async function ingestOne(t: TestApp, key: string, identifiers: string[], over: Parameters<typeof makeEvent>[0] = {}): Promise<string> {
  const result = await ingest(t, key, [makeEvent({ identifiers, ...over })]);
  expect(result.accepted).toBe(1);
  return result.results[0].profileId!;
}

/** A READ key of the admin key's workspace, with or without the PII scope. */
export async function createReadKey(t: TestApp, adminKey: string, pii: boolean): Promise<string> {
  const { data } = await t.gql(CreateApiKeyDocument, { input: { role: 'READ', name: 'console', pii } }, adminKey);
  return data!.createApiKey.key;
}
