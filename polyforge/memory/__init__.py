"""Memory: the embedder and the FAISS memory bank each language agent keeps."""

from polyforge.memory.bank import MemoryBank, MemoryBankError, MemoryEntry, Neighbour
from polyforge.memory.embedder import Embedder, shared_embedder

__all__ = ["Embedder", "MemoryBank", "MemoryBankError", "MemoryEntry", "Neighbour", "shared_embedder"]
