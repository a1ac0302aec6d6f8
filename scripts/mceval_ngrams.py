"""Rebuild polyforge/ingest/benchmarks/mceval-10grams.npy from McEval's data (the bundled copy by default).

    python scripts/mceval_ngrams.py [MCEVAL_DIR]

The file holds the sorted unique 64-bit hashes of McEval's word 10-grams (prompts, reference solutions,
instructions; shingles.py's hashing), not its text. Rebuild it when shingles.py's hashing changes.
"""

import sys
from pathlib import Path

import numpy as np

from polyforge.ingest.decontamination import MCEVAL_N, MCEVAL_NGRAMS, mceval_texts, ngram_set
from polyforge.sandbox.mceval import bundled_mceval

if __name__ == "__main__":
    folder = Path(sys.argv[1]) if len(sys.argv) == 2 else bundled_mceval()
    if len(sys.argv) > 2 or not folder.is_dir():
        sys.exit(__doc__)
    hashes = ngram_set(mceval_texts(folder), MCEVAL_N)
    np.save(MCEVAL_NGRAMS, hashes)
    print(f"{len(hashes)} {MCEVAL_N}-grams -> {MCEVAL_NGRAMS}")
