import type { EventInput } from '../generated/graphql';
import { makeEvent } from './events';
import { rng } from './random';

/** A synthetic person with identifiers across channels, already in normalised form. */
export interface Person {
  ids: string[];
}

/**
 * People who show up on several channels: a member id (most), a unionid, openids in the official
 * account and the mini program, a phone, devices and anonymous ids. `shareDevices` makes some
 * people share a device (family tablets) so that links get refused or chains form.
 */
export function makePeople(count: number, seed: number, shareDevices = 0): Person[] {
  const r = rng(seed);
  const people: Person[] = [];
  for (let i = 0; i < count; i++) {
    const ids: string[] = [];
    if (r.chance(0.7)) ids.push(`member_id::M${seed}-${i}`);
    if (r.chance(0.6)) ids.push(`wechat_unionid:wx_open:U${seed}-${i}`);
    if (r.chance(0.6)) ids.push(`wechat_openid:wx_mp_app:oMP${seed}-${i}`);
    if (r.chance(0.5)) ids.push(`wechat_openid:wx_oa_app:oOA${seed}-${i}`);
    if (r.chance(0.5)) ids.push(`phone::+86139${String(seed % 100).padStart(2, '0')}${String(i).padStart(6, '0')}`);
    if (r.chance(0.3)) ids.push(`wecom_external_userid:ww_corp:wm${seed}-${i}`);
    for (let d = 0; d < 1 + r.int(2); d++) ids.push(`device_id::D${seed}-${i}-${d}`);
    ids.push(`anonymous_id::A${seed}-${i}`);
    people.push({ ids });
  }
  for (let k = 0; k < shareDevices; k++) {
    const a = people[r.int(count)];
    const b = people[r.int(count)];
    const shared = a.ids.find((x) => x.startsWith('device_id'))!;
    if (!b.ids.includes(shared)) b.ids.push(shared);
  }
  return people;
}

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
