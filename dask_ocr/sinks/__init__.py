"""Where results go: resumable Parquet parts and searchable PDFs."""

from .parquet import write_parquet

__all__ = ["write_parquet"]
