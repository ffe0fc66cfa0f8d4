import { rng } from './random';

/**
 * Synthetic people for the identity tests and the ingest benchmark: people who show up on several
 * channels under a member id (most), a WeChat unionid, openids in the mini program and the official
 * account, a phone, a WeCom external user id, devices and an anonymous id.
 */

/** A synthetic person's identifiers as `type:namespace:value` strings, already in normalised form. */
export interface Person {
  ids: string[];
}

/** `count` people of a seed; `shareDevices` makes some share a device (family tablets), so links get refused or chains form. */
export function makePeople(count: number, seed: number, shareDevices = 0): Person[] {
  const r = rng(seed);
  const people: Person[] = [];
  const s = String(seed % 100).padStart(2, '0');
  for (let i = 0; i < count; i++) {
    const ids: string[] = [];
    if (r.chance(0.7)) ids.push(`member_id::M${seed}-${i}`);
    if (r.chance(0.6)) ids.push(`wechat_unionid:wx_open:U${seed}-${i}`);
    if (r.chance(0.6)) ids.push(`wechat_openid:wx_mp_app:oMP${seed}-${i}`);
    if (r.chance(0.5)) ids.push(`wechat_openid:wx_oa_app:oOA${seed}-${i}`);
    // 139 + 2 + 6 digits: a valid 11-digit mainland mobile number for up to a million people.
    if (r.chance(0.5)) ids.push(`phone::+86139${s}${String(i).padStart(6, '0')}`);
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

/** `type:namespace:value` → parts (the value may itself contain colons; an empty namespace is ''). */
export function parseId(s: string): { type: string; namespace: string; value: string } {
  const i = s.indexOf(':');
  const j = s.indexOf(':', i + 1);
  return { type: s.slice(0, i), namespace: s.slice(i + 1, j), value: s.slice(j + 1) };
}

/** `type:namespace:value` → an identifier input (no namespace field when it is empty). */
export function idInput(s: string): { type: string; namespace?: string; value: string } {
  const { type, namespace, value } = parseId(s);
  return namespace ? { type, namespace, value } : { type, value };
}
