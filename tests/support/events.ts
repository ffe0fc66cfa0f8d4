import { randomUUID } from 'node:crypto';
import { idInput } from '../../src/shared/synthetic-people';
import type { EventInput, IdentifierInput } from '../generated/graphql';

export { idInput };

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
