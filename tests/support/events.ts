import { randomUUID } from 'node:crypto';
import type { EventInput, IdentifierInput } from '../generated/graphql';
import { parseId } from './scenarios';

let n = 0;

/** A valid event; override any field. Identifiers may be given as `type:namespace:value` strings. */
export function makeEvent(over: Partial<Omit<EventInput, 'identifiers'>> & { identifiers?: (string | IdentifierInput)[] } = {}): EventInput {
  const ids = (over.identifiers ?? [`anonymous_id::anon-${randomUUID()}`]).map((i) => (typeof i === 'string' ? idInput(i) : i));
  return {
    messageId: `m-${randomUUID()}`,
    type: 'track',
    name: 'Product Viewed',
    channel: 'wechat_mp',
    timestamp: new Date(Date.UTC(2026, 10, 1, 8, 0, n++ % 60)).toISOString(),
    ...over,
    identifiers: ids,
  };
}

export function idInput(s: string): IdentifierInput {
  const { type, namespace, value } = parseId(s);
  return namespace ? { type, namespace, value } : { type, value };
}
