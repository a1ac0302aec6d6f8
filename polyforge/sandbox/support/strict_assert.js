const assert = require('assert');
console.assert = (value, ...message) => {
  if (!value) throw new assert.AssertionError({ message: message.length ? message.join(' ') : 'console.assert failed' });
};
// Tests often call assert(...) without requiring it, as if it were a global; a test file's own
// `const assert = require('assert')` still works (it shadows this one in its module).
globalThis.assert ??= assert;
