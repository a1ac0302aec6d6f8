const { AssertionError } = require('assert');
console.assert = (value, ...message) => {
  if (!value) throw new AssertionError({ message: message.length ? message.join(' ') : 'console.assert failed' });
};
