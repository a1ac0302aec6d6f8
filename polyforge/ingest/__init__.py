"""Ingestion: sources -> language identification -> tree-sitter snippets -> filters and deduplication."""

from polyforge.ingest.pipeline import IngestError, IngestReport, SnippetRecord, ingest, stream_snippets

__all__ = ["IngestError", "IngestReport", "SnippetRecord", "ingest", "stream_snippets"]
