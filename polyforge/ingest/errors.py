"""The error every ingest step raises for input it cannot use."""


class IngestError(ValueError):
    """Input that ingestion cannot use; the message says what and where."""
