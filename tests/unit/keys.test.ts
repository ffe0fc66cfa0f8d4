import { displayPrefix, generateApiKey, hashApiKey, parseAuthorization } from '../../src/platform/auth';

describe('API key helpers', () => {
  it('generates distinct high-entropy keys', () => {
    const keys = new Set(Array.from({ length: 1000 }, generateApiKey));
    expect(keys.size).toBe(1000);
    for (const k of keys) expect(k).toMatch(/^siyu_[A-Za-z0-9_-]{32}$/);
  });

  it('hashes deterministically and shows a short prefix', () => {
    const k = generateApiKey();
    expect(hashApiKey(k)).toBe(hashApiKey(k));
    expect(hashApiKey(k)).not.toBe(hashApiKey(k + 'x'));
    expect(displayPrefix(k)).toHaveLength(11);
  });

  it.each([
    ['Bearer siyu_abc', 'siyu_abc'],
    ['bearer   siyu_abc  ', 'siyu_abc'],
    ['siyu_abc', 'siyu_abc'],
    ['', null],
    ['Bearer ', null],
    [undefined, null],
    [42, null],
  ])('parses %p', (header, key) => {
    expect(parseAuthorization(header)).toBe(key);
  });
});
