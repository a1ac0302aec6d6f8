"""Open, rebuild and save the language agents' memory banks for a campaign.

A bank is saved with a fingerprint of what the database held; when the saved bank is missing or
its fingerprint no longer matches (a crash before saving, another database), it is rebuilt from
the seeds and the stored pairs.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from polyforge.config import CampaignConfig
from polyforge.memory import Embedder, MemoryBank, MemoryBankError
from polyforge.seeds import Seed, load_seeds, seeds_by_language
from polyforge.storage import Pair
from polyforge.terms import PairStatus

REMEMBERED = PairStatus.judged()  # pairs whose instruction was novel and answered


def bank_folder(config: CampaignConfig, language: str) -> Path:
    root = config.memory.folder or config.output_dir / "memory"
    return root / re.sub(r"[^a-z0-9]+", "-", language.lower()).strip("-")


def _fingerprint(session: Session, language: str, seeds: list[Seed]) -> dict:
    pairs = session.scalar(select(func.count()).where(Pair.language == language, Pair.status.in_(REMEMBERED)))
    seed_hash = hashlib.sha256("\n".join(s.instruction for s in seeds).encode()).hexdigest()[:16]
    return {"pairs": pairs, "seeds": seed_hash}


def _rebuild(session: Session, language: str, seeds: list[Seed], embedder: Embedder, config: CampaignConfig):
    bank = MemoryBank(embedder, ivf_threshold=config.memory.ivf_threshold)
    entries = [bank.new_entry("seed", seed.instruction, seed.output) for seed in seeds]
    rows = session.execute(
        select(Pair.instruction, Pair.answer, Pair.status)
        .where(Pair.language == language, Pair.status.in_(REMEMBERED)).order_by(Pair.id)
    )
    entries += [bank.new_entry(PairStatus.accepted if status == PairStatus.accepted else "generated", instruction, answer)
                for instruction, answer, status in rows]
    bank.add(entries)
    return bank


def open_banks(session: Session, config: CampaignConfig, languages: Iterable[str], embedder: Embedder
               ) -> tuple[dict[str, MemoryBank], dict[str, str]]:
    """A bank per language, and how each was obtained ('loaded' or 'rebuilt: why')."""
    seeds = seeds_by_language(load_seeds(config.memory.seeds))
    banks, origins = {}, {}
    for language in sorted(set(languages)):
        own_seeds = seeds.get(language, [])
        fingerprint = _fingerprint(session, language, own_seeds)
        try:
            bank, meta = MemoryBank.load(bank_folder(config, language), embedder,
                                         ivf_threshold=config.memory.ivf_threshold)
            if meta.get("fingerprint") != fingerprint:
                raise MemoryBankError("the database changed since it was saved")
            origins[language] = "loaded"
        except MemoryBankError as exc:
            bank = _rebuild(session, language, own_seeds, embedder, config)
            origins[language] = f"rebuilt ({exc})" if bank_folder(config, language).exists() else "new"
        banks[language] = bank
    return banks, origins


def save_banks(session: Session, config: CampaignConfig, banks: dict[str, MemoryBank]) -> None:
    seeds = seeds_by_language(load_seeds(config.memory.seeds))
    for language, bank in banks.items():
        bank.save(bank_folder(config, language), _fingerprint(session, language, seeds.get(language, [])))
