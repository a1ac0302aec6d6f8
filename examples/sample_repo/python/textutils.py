"""Small text utilities."""

from collections import Counter


def word_frequencies(text: str, top: int = 5) -> list[tuple[str, int]]:
    """Return the `top` most common lowercase words in `text`."""
    words = [w.strip(".,;:!?\"'()").lower() for w in text.split()]
    counts = Counter(w for w in words if w)
    return counts.most_common(top)


def is_palindrome(text: str) -> bool:
    """True when `text` reads the same backwards, ignoring case and non-letters."""
    letters = [c.lower() for c in text if c.isalnum()]
    return letters == letters[::-1]


def chunk(items: list, size: int) -> list[list]:
    """Split `items` into consecutive lists of at most `size` elements."""
    if size <= 0:
        raise ValueError("size must be positive")
    return [items[i : i + size] for i in range(0, len(items), size)]


class LRUCache:
    """A least-recently-used cache with a fixed capacity."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self._data: dict = {}

    def get(self, key, default=None):
        if key not in self._data:
            return default
        value = self._data.pop(key)
        self._data[key] = value
        return value

    def put(self, key, value) -> None:
        self._data.pop(key, None)
        self._data[key] = value
        if len(self._data) > self.capacity:
            self._data.pop(next(iter(self._data)))
