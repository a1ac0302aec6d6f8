"""Open, rebuild and save the language agents' memory banks for a campaign.

A bank is saved with a fingerprint of what the database held; when the saved bank is missing or
its fingerprint no longer matches (a crash before saving, another database), it is rebuilt from
the seeds and the stored pairs.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from polyforge.config import CampaignConfig
from polyforge.memory import Embedder, MemoryBank, MemoryBankError
from polyforge.seeds import Seed, load_seeds, seeds_by_language
from polyforge.storage import Pair
from polyforge.terms import PairStatus

REMEMBERED = PairStatus.judged()  # pairs whose instruction was novel and answered


@dataclass(frozen=True)
class BankSettings:
    """Where a campaign's banks live and what they start from."""

    root: Path  # a folder per language below it
    seeds: str  # the seed set (a bundled name or a path)
    ivf_threshold: int  # bank size at which the flat index becomes IVF

    @classmethod
    def from_config(cls, config: CampaignConfig) -> BankSettings:
        memory = config.memory
        return cls(memory.folder or config.output_dir / "memory", memory.seeds, memory.ivf_threshold)

    def folder(self, language: str) -> Path:
        return self.root / re.sub(r"[^a-z0-9]+", "-", language.lower()).strip("-")


def _fingerprint(session: Session, language: str, seeds: list[Seed]) -> dict:
    pairs = session.scalar(select(func.count()).where(Pair.language == language, Pair.status.in_(REMEMBERED)))
    seed_hash = hashlib.sha256("\n".join(s.instruction for s in seeds).encode()).hexdigest()[:16]
    return {"pairs": pairs, "seeds": seed_hash}


def _rebuild(session: Session, language: str, seeds: list[Seed], embedder: Embedder, settings: BankSettings):
    bank = MemoryBank(embedder, ivf_threshold=settings.ivf_threshold)
    entries = [bank.new_entry("seed", seed.instruction, seed.output) for seed in seeds]
    rows = session.execute(
        select(Pair.instruction, Pair.answer, Pair.status)
        .where(Pair.language == language, Pair.status.in_(REMEMBERED)).order_by(Pair.id)
    )
    entries += [bank.new_entry(PairStatus.accepted if status == PairStatus.accepted else "generated", instruction, answer)
                for instruction, answer, status in rows]
    bank.add(entries)
    return bank


def open_banks(session: Session, settings: BankSettings, languages: Iterable[str], embedder: Embedder
               ) -> tuple[dict[str, MemoryBank], dict[str, str]]:
    """A bank per language, and how each was obtained ('loaded' or 'rebuilt: why')."""
    seeds = seeds_by_language(load_seeds(settings.seeds))
    banks, origins = {}, {}
    for language in sorted(set(languages)):
        own_seeds = seeds.get(language, [])
        fingerprint = _fingerprint(session, language, own_seeds)
        try:
            bank, meta = MemoryBank.load(settings.folder(language), embedder, ivf_threshold=settings.ivf_threshold)
            if meta.get("fingerprint") != fingerprint:
                raise MemoryBankError("the database changed since it was saved")
            origins[language] = "loaded"
        except MemoryBankError as exc:
            bank = _rebuild(session, language, own_seeds, embedder, settings)
            origins[language] = f"rebuilt ({exc})" if settings.folder(language).exists() else "new"
        banks[language] = bank
    return banks, origins


def save_banks(session: Session, settings: BankSettings, banks: dict[str, MemoryBank]) -> None:
    seeds = seeds_by_language(load_seeds(settings.seeds))
    for language, bank in banks.items():
        bank.save(settings.folder(language), _fingerprint(session, language, seeds.get(language, [])))
