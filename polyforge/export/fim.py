"""Fill-in-the-middle samples from the code of selected answers, in Qwen2.5-Coder's layouts.

The export cuts each answer's first fenced code block at line boundaries into a prefix, a middle of one
line up to a third of the block, and a suffix; the cut is drawn with the pair's id as seed, so the same
pair always gives the same sample. `text` is `<|fim_prefix|>prefix<|fim_suffix|>suffix<|fim_middle|>middle`
(PSM). Training mixes in FIM samples cut either way: at lines, or around one AST node (`fim_ast`), in PSM
or SPM order (`<|fim_suffix|>suffix<|fim_prefix|>prefix<|fim_middle|>middle`).
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import pyarrow as pa
from sqlalchemy.orm import Session

from polyforge.agents import code_block
from polyforge.export.filters import ExportFilter
from polyforge.export.fim_ast import FIM_LEVELS, FimCut, ast_fim_cut
from polyforge.export.records import PROVENANCE_FIELDS, iter_sft_records

FIM_PREFIX, FIM_SUFFIX, FIM_MIDDLE = "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"
MIN_LINES = 3  # shorter code leaves nothing worth filling in
FIM_SCHEMA = pa.schema([("text", pa.string()), ("prefix", pa.string()), ("middle", pa.string()),
                        ("suffix", pa.string()), *PROVENANCE_FIELDS])


def fim_split(code: str, seed: int) -> tuple[str, str, str] | None:
    """(prefix, middle, suffix) at line boundaries, or None for code under MIN_LINES lines."""
    lines = code.splitlines(keepends=True)
    if len(lines) < MIN_LINES:
        return None
    draw = random.Random(seed)
    span = draw.randint(1, max(1, len(lines) // 3))
    start = draw.randint(0, len(lines) - span)
    return "".join(lines[:start]), "".join(lines[start:start + span]), "".join(lines[start + span:])


def line_fim_cut(code: str, seed: int) -> FimCut | None:
    split = fim_split(code, seed)
    return FimCut(*split, level="line") if split else None


def fim_cut(code: str, language: str, seed: int, mode: str = "line", levels=FIM_LEVELS) -> FimCut | None:
    """A cut of `code`: around one AST node of `levels` (mode 'ast') or at lines (mode 'line')."""
    return ast_fim_cut(code, language, seed, levels) if mode == "ast" else line_fim_cut(code, seed)


def fim_text(cut: FimCut, order: str = "psm") -> str:
    """The sample's text without its middle, which the model learns to write next: PSM or SPM order."""
    if order == "spm":
        return f"{FIM_SUFFIX}{cut.suffix}{FIM_PREFIX}{cut.prefix}{FIM_MIDDLE}"
    return f"{FIM_PREFIX}{cut.prefix}{FIM_SUFFIX}{cut.suffix}{FIM_MIDDLE}"


def iter_fim_records(session: Session, spec: ExportFilter = ExportFilter()) -> Iterator[dict]:
    """A FIM sample for each selected pair whose answer has a code block of MIN_LINES lines or more."""
    for record in iter_sft_records(session, spec):
        messages = record.pop("messages")
        code = code_block(messages[-1]["content"])
        split = fim_split(code + "\n", record["pair_id"]) if code else None
        if split is None:
            continue
        prefix, middle, suffix = split
        yield {"text": fim_text(FimCut(prefix, middle, suffix, "line")) + middle, "prefix": prefix,
               "middle": middle, "suffix": suffix, **record}
