"""Instruction datasets as sources: each row (a task, its language, its id) becomes a snippet of kind
`instruction` whose code is the task's text.

Stored as snippets, the rows go through what code snippets go through (the schedule, the budget, resuming, the
export's provenance) without a parallel path; the scheduler turns such a snippet into a work item whose
instruction is given, so the item graph answers, tests and judges it and writes no instruction. The row's id is
the snippet's `source_id` (and its `path`); its row number is the snippet's line.

A row whose language Polyforge does not know stops the ingest with a message naming the row and the value: a
misspelt name or a field mapped to the wrong column would otherwise lose rows without a word. To leave languages
out, list the ones to keep in the campaign's `languages`; rows of any other language, known or not, are then
skipped and counted.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from polyforge.config import InstructionFields, SourceConfig
from polyforge.dataset_files import DatasetFileError, dataset_rows
from polyforge.ingest.errors import IngestError
from polyforge.ingest.filters import Candidate, ExactDedup
from polyforge.ingest.pipeline import IngestReport, SnippetRecord, SourceSummary, selected_languages
from polyforge.ingest.snippets import count_tokens, normalized_hash
from polyforge.languages import language_by_name

INSTRUCTION_KIND = "instruction"  # the kind of a snippet that holds a dataset's task rather than code
STEP = "read instructions"  # the ingest report's step for dataset rows
NOT_SELECTED = "language not selected"


def stream_instructions(sources: Sequence[SourceConfig], report: IngestReport,
                        languages: Sequence[str] | None = None) -> Iterator[SnippetRecord]:
    """The tasks of every instruction dataset among `sources`, a row at a time, as snippet records; exact
    repeats (same language and text, across datasets too) are counted and dropped. A row that lacks a mapped
    field, or names an unknown language, raises IngestError."""
    wanted = selected_languages(languages)
    repeats = ExactDedup()
    for source in sources:
        if source.instructions is None:
            continue
        summary = SourceSummary(str(source.instructions), rows=0)
        report.sources.append(summary)
        try:
            for number, row in dataset_rows(source.instructions):
                summary.rows += 1
                report.steps[STEP].seen += 1
                record = _record(source.instructions, source.fields, number, row, wanted)
                if record is None:
                    summary.skipped.note(NOT_SELECTED, f"row {number}")
                    report.steps[STEP].dropped[NOT_SELECTED] += 1
                elif _counted(report, record, repeats):
                    yield record
        except DatasetFileError as exc:
            raise IngestError(str(exc)) from exc


def _counted(report: IngestReport, record: SnippetRecord, repeats: ExactDedup) -> bool:
    """Count a row that was read in the report; False for an exact repeat of an earlier one."""
    step, stats = report.steps[STEP], report.languages[record.language]
    reason = repeats.reason_to_drop(Candidate(record.language, record.code, record.tokens, record.content_hash,
                                              words=None))
    if reason is not None:
        step.dropped[reason] += 1
        stats.dropped[reason] += 1
        return False
    step.kept += 1
    stats.snippets += 1
    stats.tokens += record.tokens
    return True


def _record(path: Path, fields: InstructionFields, number: int, row: dict,
            wanted: set[str] | None) -> SnippetRecord | None:
    """The row as a snippet record, or None when its language is not among the `wanted` ones."""
    text = _field(path, number, row, "instruction", fields.instruction)
    named = _field(path, number, row, "language", fields.language)
    row_id = _field(path, number, row, "id", fields.id)
    language = language_by_name(named.strip())
    if wanted is not None and (language is None or language.name not in wanted):
        return None
    if language is None:
        raise IngestError(f"{path}: row {number}: unknown language {named!r} in field {fields.language!r}; use the "
                          "names `polyforge identify` prints (e.g. Python, C++, JavaScript) or their aliases (py, "
                          "cpp, js), or list the languages to keep in the campaign's `languages` to skip the others")
    return SnippetRecord(language=language.name, source=str(path), path=row_id, start_line=number, end_line=number,
                         kind=INSTRUCTION_KIND, code=text, tokens=count_tokens(text),
                         content_hash=normalized_hash(f"{language.name}\n{text}"), source_id=row_id)


def _field(path: Path, number: int, row: dict, role: str, name: str) -> str:
    """The text of the row's field `name`, which holds the task's `role`; a missing or empty one is an error."""
    if name not in row:
        raise IngestError(f"{path}: row {number} has no field {name!r} (the task's {role}); the row's fields: "
                          f"{', '.join(map(str, row)) or 'none'}. Name the dataset's fields in the source's "
                          f"`fields`, e.g. fields: {{{role}: ...}}")
    value = row[name]
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        what = "nothing (null)" if value is None else f"a {type(value).__name__}"
        raise IngestError(f"{path}: row {number}: field {name!r} (the task's {role}) holds {what}, not text")
    text = str(value)
    if not text.strip():
        raise IngestError(f"{path}: row {number}: field {name!r} (the task's {role}) is empty")
    return text
