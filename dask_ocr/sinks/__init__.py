"""Where results go: resumable Parquet parts and searchable PDFs."""

from .parquet import to_portable_parquet, write_parquet
from .pdf import write_pdf

__all__ = ["write_parquet", "to_portable_parquet", "write_pdf"]
