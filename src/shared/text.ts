/**
 * Text PostgreSQL cannot store: a NUL character (text and jsonb refuse it) or an unpaired UTF-16
 * surrogate (not encodable as UTF-8). Pure code, shared by the GraphQL argument check and ingest.
 */
// eslint-disable-next-line no-control-regex -- NUL is exactly what is looked for
export const UNSTORABLE_TEXT = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Path (`a.0.b`) of the first string or object key in `root` that PostgreSQL cannot store, or null. Iterative (deep JSON). */
export function findUnstorableText(root: unknown): string | null {
  const stack: [unknown, string][] = [[root, '']];
  while (stack.length) {
    const [v, path] = stack.pop()!;
    if (typeof v === 'string') {
      if (UNSTORABLE_TEXT.test(v)) return path;
    } else if (Array.isArray(v)) {
      v.forEach((x, i) => stack.push([x, path ? `${path}.${i}` : String(i)]));
    } else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        const p = path ? `${path}.${k}` : k;
        if (UNSTORABLE_TEXT.test(k)) return p;
        stack.push([x, p]);
      }
    }
  }
  return null;
}

/** The message for such text, the same wherever it is refused. */
export const UNSTORABLE_TEXT_MESSAGE = 'contains a NUL character (\\u0000) or a lone UTF-16 surrogate, which cannot be stored';
