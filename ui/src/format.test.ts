import { describe, expect, it } from 'vitest';
import { errorLine, formatTTL, joinPath, normaliseMount, parentPath, parseDuration, pemFileName, splitList } from './format';

describe('formatTTL', () => {
  const cases: [number | null, boolean, string][] = [
    [null, false, '—'],
    [0, false, '0s'],
    [0, true, 'never'],
    [59, false, '59s'],
    [3600, false, '1h'],
    [3661, false, '1h 1m 1s'],
    [90061, false, '1d 1h 1m'],
  ];
  it.each(cases)('%s', (s, never, want) => expect(formatTTL(s, never)).toBe(want));
});

describe('parseDuration', () => {
  const cases: [string, number | null][] = [
    ['', null], ['90', 90], ['90s', 90], ['15m', 900], ['1h30m', 5400], ['7d', 604800], ['1x', null], ['h', null], ['1h 2m', null],
  ];
  it.each(cases)('%s', (s, want) => expect(parseDuration(s)).toBe(want));
});

describe('paths', () => {
  it('joins and splits', () => {
    expect(joinPath('database/creds/', 'ro/')).toBe('database/creds/ro/');
    expect(joinPath('a', 'b')).toBe('a/b');
    expect(joinPath('', 'b')).toBe('b');
    expect(parentPath('a/b/c')).toBe('a/b/');
    expect(parentPath('a/b/')).toBe('a/');
    expect(parentPath('a')).toBe('');
    expect(normaliseMount(' /db// ')).toBe('db/');
    expect(normaliseMount('')).toBe('');
  });
});

describe('errorLine', () => {
  const cases: [string, number | null][] = [
    ['failed to parse policy: line 3, column 5: expected', 3],
    ['At 7:1: illegal char', 7],
    ['permission denied', null],
  ];
  it.each(cases)('%s', (m, want) => expect(errorLine(m)).toBe(want));
});

it('pemFileName', () => {
  expect(pemFileName('web.example.com', 'cert')).toBe('web.example.com.cert.pem');
  expect(pemFileName('a b/c', 'key')).toBe('a_b_c.key.pem');
  expect(pemFileName('///', 'ca')).toBe('certificate.ca.pem');
});

it('splitList', () => {
  expect(splitList(' a, b,,c\nd ')).toEqual(['a', 'b', 'c', 'd']);
});
