"""Where results go: resumable Parquet parts and searchable PDFs."""

from .parquet import write_parquet
from .pdf import write_pdf

__all__ = ["write_parquet", "write_pdf"]
