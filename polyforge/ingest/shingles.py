"""Word n-gram hashes of code, computed with numpy: shared by near-duplicate detection (MinHash
over word shingles) and decontamination (benchmark word n-grams)."""

from __future__ import annotations

import re

import numpy as np
import xxhash

WORD = re.compile(r"\w+")
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # odd: the rolling combination stays a bijection per position
_word_hashes: dict[str, int] = {}  # words repeat a great deal in code: hash each one once
_CACHE_LIMIT = 2_000_000


def word_hashes(text: str) -> np.ndarray:
    """64-bit hashes of the lower-cased words of `text`, in order."""
    cache = _word_hashes
    if len(cache) > _CACHE_LIMIT:
        cache.clear()
    hashes = []
    for word in WORD.findall(text.lower()):
        value = cache.get(word)
        if value is None:
            value = cache[word] = xxhash.xxh64_intdigest(word.encode())
        hashes.append(value)
    return np.array(hashes, dtype=np.uint64)


def ngram_hashes(words: np.ndarray, n: int) -> np.ndarray:
    """One 64-bit hash per run of `n` consecutive words (a single one when there are fewer)."""
    if len(words) == 0:
        return words
    if len(words) < n:
        n = len(words)
    count = len(words) - n + 1
    with np.errstate(over="ignore"):  # wrapping arithmetic is the hash
        combined = words[:count].copy()
        for offset in range(1, n):
            combined = combined * _MULTIPLIER + words[offset : offset + count]
    return combined


def to_32_bits(hashes: np.ndarray) -> np.ndarray:
    return ((hashes >> np.uint64(32)) ^ hashes) & np.uint64(0xFFFFFFFF)
