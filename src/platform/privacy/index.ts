import { findPhoneNumbersInText } from 'libphonenumber-js';

/**
 * Finding phone numbers and e-mail addresses in any text, for masking responses and logs and for
 * keeping them out of stored traits. The phone formats are the documented ones (docs/identity.md),
 * as libphonenumber-js reads them: a Chinese mobile number with or without `+86`, `86` or `0086`
 * and with spaces or hyphens (`13812345678`, `+86 138-1234-5678`, `008613812345678`), and any
 * international number written with `+` (`+1 (415) 555-4955`, `+442079460958`). Full-width digits
 * and signs (`１３８…`, `＋`, `＠`) count as their ASCII forms.
 */

export interface PersonalMatch {
  /** UTF-16 offsets in the text searched. */
  start: number;
  end: number;
  type: 'phone' | 'email';
  /** E.164 for a phone, lower case for an e-mail. */
  value: string;
}

/** Full-width ASCII (U+FF01–U+FF5E) and the ideographic space as ASCII, one UTF-16 unit for one, so offsets stay valid. */
export function foldWidth(s: string): string {
  return s.replace(/[\uff01-\uff5e\u3000]/g, (c) => (c === '\u3000' ? ' ' : String.fromCharCode(c.charCodeAt(0) - 0xfee0)));
}

const CN_MOBILE_IN_TEXT = /(?<![\d+])(?:(?:\+|00)?86[\s-]?)?1[3-9]\d(?:[\s-]?\d){8}(?!\d)/g;
/** Bounded parts (RFC 5321: 64 and 255): an unbounded `+` backtracks quadratically over a long run without '@'. */
const EMAIL_IN_TEXT = /[^\s@<>()"',;:]{1,64}@[^\s@<>()"',;:]{1,255}\.[A-Za-z]{2,63}/g;
/** What a number written with `+` is made of; libphonenumber's finder may run on into `, 2026` (an extension). */
const PHONE_CHARS = /^[\d\s()+.-]*/;

/** Every phone number and e-mail address in `text`, in order, not overlapping. */
export function findPersonalData(text: string): PersonalMatch[] {
  const folded = foldWidth(text);
  const found: PersonalMatch[] = [];
  if (folded.includes('@')) for (const m of folded.matchAll(EMAIL_IN_TEXT)) found.push({ start: m.index, end: m.index + m[0].length, type: 'email', value: m[0].toLowerCase() });
  for (const m of folded.matchAll(CN_MOBILE_IN_TEXT)) found.push({ start: m.index, end: m.index + m[0].length, type: 'phone', value: `+86${m[0].replace(/\D/g, '').slice(-11)}` });
  if (folded.includes('+')) {
    for (const f of findPhoneNumbersInText(folded)) {
      const raw = PHONE_CHARS.exec(folded.slice(f.startsAt, f.endsAt))![0].trimEnd();
      found.push({ start: f.startsAt, end: f.startsAt + raw.length, type: 'phone', value: f.number.number });
    }
  }
  found.sort((a, b) => a.start - b.start || b.end - a.end);
  const out: PersonalMatch[] = [];
  for (const m of found) if (!out.length || m.start >= out[out.length - 1].end) out.push(m);
  return out;
}

/** The phone number or e-mail address that is the whole value (a string, or an integer such as `15076740179`), or null. */
export function wholePersonalValue(v: unknown): PersonalMatch | null {
  const s = typeof v === 'string' ? v.trim() : typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? String(v) : null;
  if (!s) return null;
  const m = findPersonalData(s);
  return m.length === 1 && m[0].start === 0 && m[0].end === s.length ? m[0] : null;
}

/** `+8613812345678` → `138****5678`; other countries keep their code: `+14155552671` → `+141****2671`. */
export function maskPhone(e164: string): string {
  const national = e164.startsWith('+86') ? e164.slice(3) : e164;
  if (national.length <= 7) return national.slice(0, 2) + '****';
  return national.slice(0, national.length - 8) + '****' + national.slice(-4);
}

/** `li.lei@example.com` → `l***@example.com`. */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  if (at <= 0) return '***';
  return email[0] + '***' + email.slice(at);
}

export function maskMatch(m: PersonalMatch): string {
  return m.type === 'phone' ? maskPhone(m.value) : maskEmail(m.value);
}

/** `text` with every phone number and e-mail address in it masked. */
export function maskPersonalText(text: string): string {
  const matches = findPersonalData(text);
  if (!matches.length) return text;
  let out = '';
  let at = 0;
  for (const m of matches) {
    out += text.slice(at, m.start) + maskMatch(m);
    at = m.end;
  }
  return out + text.slice(at);
}
