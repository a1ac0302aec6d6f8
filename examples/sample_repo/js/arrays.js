// Array helpers used across the front end.

/**
 * Group the elements of an array by the key a function returns.
 */
function groupBy(items, keyOf) {
  const groups = {};
  for (const item of items) {
    const key = keyOf(item);
    (groups[key] = groups[key] || []).push(item);
  }
  return groups;
}

/**
 * Remove duplicate values while keeping the first occurrence order.
 */
function unique(items) {
  const seen = new Set();
  return items.filter((item) => {
    if (seen.has(item)) return false;
    seen.add(item);
    return true;
  });
}

/**
 * Return a function that delays calls to `fn` until `ms` milliseconds pass without a call.
 */
function debounce(fn, ms) {
  let timer = null;
  return function (...args) {
    clearTimeout(timer);
    timer = setTimeout(() => fn.apply(this, args), ms);
  };
}

module.exports = { groupBy, unique, debounce };
