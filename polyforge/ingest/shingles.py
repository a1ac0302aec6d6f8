"""Word n-gram hashes of code, computed with numpy: shared by near-duplicate detection (MinHash
over word shingles) and decontamination (benchmark word n-grams)."""

from __future__ import annotations

import re

import numpy as np

WORD = re.compile(r"\w+")
# Words are hashed on at most WORD_CHARS characters (a longer one on its first and last halves):
# numpy then hashes all words of a snippet in a few vectorized operations instead of a Python call
# per word. Long words that agree on both ends collide, which only nudges a similarity estimate.
WORD_CHARS = 16
_LANES = WORD_CHARS * 4 // 8  # numpy stores "U" strings as UTF-32: 4 bytes a character, 8 a lane
_LANE_MULTIPLIERS = np.array(
    [0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93,
     0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53, 0x94D049BB133111EB, 0xBF58476D1CE4E5B9][:_LANES],
    dtype=np.uint64,
)
_MULTIPLIER = np.array(0x9E3779B97F4A7C15, dtype=np.uint64)
_MIX = np.array(0xFF51AFD7ED558CCD, dtype=np.uint64)
_SHIFT = np.array(33, dtype=np.uint64)


def _finalize(hashes: np.ndarray) -> np.ndarray:
    """Spread every input bit over the whole word (MurmurHash3's 64-bit finalizer, one round)."""
    hashes ^= hashes >> _SHIFT
    hashes *= _MIX
    hashes ^= hashes >> _SHIFT
    return hashes


def word_hashes(text: str) -> np.ndarray:
    """64-bit hashes of the lower-cased words of `text`, in order."""
    words = WORD.findall(text.lower())
    if not words:
        return np.empty(0, dtype=np.uint64)
    half = WORD_CHARS // 2
    words = [word if len(word) <= WORD_CHARS else word[:half] + word[-half:] for word in words]
    lanes = np.array(words, dtype=f"U{WORD_CHARS}").view(np.uint64).reshape(len(words), _LANES)
    # uint64 array arithmetic wraps around silently (only scalar overflow warns): the wrap is the hash.
    return _finalize((lanes * _LANE_MULTIPLIERS).sum(axis=1, dtype=np.uint64))


def ngram_hashes(words: np.ndarray, n: int) -> np.ndarray:
    """One 64-bit hash per run of `n` consecutive words (a single one when there are fewer)."""
    if len(words) == 0:
        return words
    n = min(n, len(words))
    count = len(words) - n + 1
    combined = words[:count].copy()
    for offset in range(1, n):
        combined *= _MULTIPLIER
        combined += words[offset : offset + count]
    return combined


def to_32_bits(hashes: np.ndarray) -> np.ndarray:
    return ((hashes >> np.uint64(32)) ^ hashes) & np.uint64(0xFFFFFFFF)
