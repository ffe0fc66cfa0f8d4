import type { EventInput } from '../generated/graphql';
import { makeEvent } from './events';
import { rng } from '../../src/shared/random';
import type { Person } from '../../src/shared/synthetic-people';

export { makePeople, type Person } from '../../src/shared/synthetic-people';

/** Events each carrying 1–3 identifiers of one person: links appear gradually, out of order. */
export function makeStream(people: Person[], events: number, seed: number): EventInput[] {
  const r = rng(seed);
  const out: EventInput[] = [];
  for (let i = 0; i < events; i++) {
    const p = r.pick(people);
    const k = 1 + r.int(3);
    const ids = new Set<string>();
    while (ids.size < Math.min(k, p.ids.length)) ids.add(r.pick(p.ids));
    out.push(makeEvent({ messageId: `s${seed}-${i}`, identifiers: [...ids], channel: r.pick(['wechat_mp', 'wechat_oa', 'wecom', 'app', 'web'] as const) }));
  }
  return out;
}
