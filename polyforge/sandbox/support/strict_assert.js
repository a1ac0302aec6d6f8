const assert = require('assert');
console.assert = (value, ...message) => {
  if (!value) throw new assert.AssertionError({ message: message.length ? message.join(' ') : 'console.assert failed' });
};
// Tests often call assert(...) without requiring it, as if it were a global; a test file's own
// `const assert = require('assert')` still works (it shadows this one in its module).
globalThis.assert ??= assert;

// Tests in Jest's style (describe / it / test / expect) run without Jest: a suite runs its body, a test runs at
// once, and each matcher is a node assertion, so a wrong result fails the run as a plain assert would.
const { inspect, isDeepStrictEqual } = require('util');
const deepEqual = (a, b) => { try { assert.deepStrictEqual(a, b); return true; } catch { return false; } };
const matchers = (actual, negated) => {
  const check = (ok, what, expected) => {
    if (ok === negated) {
      throw new assert.AssertionError({ message: `expected ${inspect(actual)} ${negated ? 'not ' : ''}${what} ${inspect(expected)}` });
    }
  };
  return {
    toBe: (expected) => check(Object.is(actual, expected), 'to be', expected),
    // Jest's toEqual ignores undefined properties and class identity: compare the JSON shapes too.
    toEqual: (expected) => check(deepEqual(actual, expected) || isDeepStrictEqual(JSON.parse(JSON.stringify(actual ?? null)), JSON.parse(JSON.stringify(expected ?? null))), 'to equal', expected),
    toStrictEqual: (expected) => check(deepEqual(actual, expected), 'to strictly equal', expected),
    toBeTruthy: () => check(Boolean(actual), 'to be', 'truthy'),
    toBeFalsy: () => check(!actual, 'to be', 'falsy'),
    toBeNull: () => check(actual === null, 'to be', null),
    toBeUndefined: () => check(actual === undefined, 'to be', undefined),
    toBeDefined: () => check(actual !== undefined, 'to be', 'defined'),
    toBeNaN: () => check(Number.isNaN(actual), 'to be', NaN),
    toContain: (item) => check(actual != null && actual.includes(item), 'to contain', item),
    toHaveLength: (length) => check(actual != null && actual.length === length, 'to have length', length),
    toBeGreaterThan: (n) => check(actual > n, 'to be greater than', n),
    toBeGreaterThanOrEqual: (n) => check(actual >= n, 'to be at least', n),
    toBeLessThan: (n) => check(actual < n, 'to be less than', n),
    toBeLessThanOrEqual: (n) => check(actual <= n, 'to be at most', n),
    toBeCloseTo: (n, digits = 2) => check(Math.abs(actual - n) < 10 ** -digits / 2, 'to be close to', n),
    toThrow: () => {
      let threw = false;
      try { actual(); } catch { threw = true; }
      check(threw, 'to', 'throw');
    },
  };
};
globalThis.expect ??= (actual) => ({ ...matchers(actual, false), not: matchers(actual, true) });
globalThis.describe ??= (name, body) => body();
globalThis.it ??= (name, body) => body();
globalThis.test ??= globalThis.it;
