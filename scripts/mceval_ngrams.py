"""Rebuild polyforge/ingest/benchmarks/mceval-10grams.npy from McEval's data folder.

    python scripts/mceval_ngrams.py ../shared/data/mceval

The file holds the sorted unique 64-bit hashes of McEval's word 10-grams (prompts, reference solutions,
instructions; shingles.py's hashing), not its text. Rebuild it when shingles.py's hashing changes.
"""

import sys
from pathlib import Path

import numpy as np

from polyforge.ingest.decontamination import MCEVAL_N, MCEVAL_NGRAMS, mceval_texts, ngram_set

if __name__ == "__main__":
    if len(sys.argv) != 2 or not Path(sys.argv[1]).is_dir():
        sys.exit(__doc__)
    hashes = ngram_set(mceval_texts(Path(sys.argv[1])), MCEVAL_N)
    np.save(MCEVAL_NGRAMS, hashes)
    print(f"{len(hashes)} {MCEVAL_N}-grams -> {MCEVAL_NGRAMS}")
