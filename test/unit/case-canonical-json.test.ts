import { describe, it, expect } from 'vitest';
import { canonicalJson } from '../../electron/services/case-store/canonical-json';

describe('canonicalJson', () => {
  it('sorts keys at every depth and drops undefined, so equal objects hash equally', () => {
    const a = canonicalJson({ b: 1, a: { z: [1, { y: 2, x: 'é' }], c: undefined } });
    const b = canonicalJson({ a: { z: [1, { x: 'é', y: 2 }] }, b: 1 });
    expect(a).toBe('{"a":{"z":[1,{"x":"é","y":2}]},"b":1}');
    expect(b).toBe(a);
  });
  it('round-trips through JSON.parse to the same text', () => {
    const value = { n: 0.1 + 0.2, big: 1e21, neg: -0, s: 'line\nbreak "q"', nil: null, t: true };
    const text = canonicalJson(value);
    expect(canonicalJson(JSON.parse(text))).toBe(text);
    expect(text).toContain('"neg":0');
  });
  it('refuses values JSON cannot carry faithfully', () => {
    expect(() => canonicalJson({ x: NaN })).toThrow(/\$\.x is not a finite number/);
    expect(() => canonicalJson({ x: Infinity })).toThrow(TypeError);
    expect(() => canonicalJson({ d: new Date(0) })).toThrow(/not a plain object/);
    expect(() => canonicalJson({ f: () => 1 })).toThrow(/unsupported type function/);
    expect(() => canonicalJson({ b: 1n })).toThrow(/unsupported type bigint/);
  });
});
