"""Show images from a DataFrame column inline in Jupyter."""

from __future__ import annotations

import base64
import html
import io

import pandas as pd

from .decode import is_missing, to_8bit

__all__ = ["display_images", "images_html", "first_rows", "thumbnail"]


#: Thumbnails are stored as JPEG at this quality: small enough for a notebook, sharp enough to read regions.
THUMBNAIL_QUALITY = 85


def thumbnail(data: bytes, width: int) -> bytes:
    """A JPEG of the encoded image ``data``, at most ``width`` pixels wide (twice that for sharp HiDPI screens).

    Raises
    ------
    ValueError
        ``data`` is not an image Pillow can read.
    """
    from PIL import Image, ImageOps

    try:
        with Image.open(io.BytesIO(bytes(data))) as image:
            image.draft("RGB", (2 * width, 2 * width * 8))  # JPEG: decode at a reduced scale when that suffices
            frame = to_8bit(ImageOps.exif_transpose(image))
    except Exception as exc:
        raise ValueError(f"not a readable image: {type(exc).__name__}: {exc}") from None
    if frame.width > 2 * width:
        frame = frame.resize((2 * width, max(1, round(frame.height * 2 * width / frame.width))),
                             Image.Resampling.LANCZOS, reducing_gap=2.0)
    out = io.BytesIO()
    frame.save(out, format="JPEG", quality=THUMBNAIL_QUALITY)
    return out.getvalue()


def images_html(images: list, captions: list, width: int = 320) -> str:
    """An HTML grid (cells ``width`` pixels wide) of thumbnails of encoded images, with captions.

    Each image is shown as a JPEG thumbnail (see :func:`thumbnail`), not at full resolution; null cells show
    "no image" and unreadable ones "unreadable image" above their caption.
    """
    cells = []
    for data, caption in zip(images, captions, strict=True):
        label = html.escape(str(caption))
        if data is None or (not isinstance(data, (bytes, bytearray, memoryview))):
            body = "<em>no image</em>"
        else:
            try:
                small = base64.b64encode(thumbnail(data, width)).decode("ascii")
                body = f'<img src="data:image/jpeg;base64,{small}" style="width:100%">'
            except ValueError:
                body = "<em>unreadable image</em>"
        cells.append(f'<figure style="margin:0">{body}<figcaption>{label}</figcaption></figure>')
    grid = f"display:grid;grid-template-columns:repeat(auto-fill,minmax({width}px,1fr));gap:8px"
    return f'<div style="{grid}">' + "".join(cells) + "</div>"


def first_rows(df, limit: int) -> pd.DataFrame:
    """The first ``limit`` rows of a pandas or Dask frame, computing only the partitions needed."""
    if isinstance(df, pd.DataFrame):
        return df.head(limit)
    frames, found = [], 0
    for number in range(df.npartitions):
        if found >= limit:
            break
        part = df.get_partition(number).compute().head(limit - found)
        frames.append(part)
        found += len(part)
    return pd.concat(frames) if frames else df._meta


def _captions(head: pd.DataFrame, caption_col: str | None) -> list[str]:
    if caption_col:
        return [str(value) for value in head[caption_col].tolist()]
    if "path" not in head.columns:
        return [str(label) for label in head.index.tolist()]
    pages = head["page"].tolist() if "page" in head.columns else [None] * len(head)
    return [str(path) if is_missing(page) else f"{path}, page {int(page)}"
            for path, page in zip(head["path"].tolist(), pages, strict=True)]


def display_images(df, col: str, limit: int = 5, caption_col: str | None = None, width: int = 320) -> None:
    """Display up to ``limit`` images of column ``col`` in a Jupyter notebook.

    Parameters
    ----------
    df : pandas.DataFrame or dask.dataframe.DataFrame
        Only the partitions holding the first ``limit`` rows are computed (each call computes them
        again: ``persist()`` a Dask frame you display more than once).
    col : str
        Column of encoded image bytes (e.g. the output of ``df.ocr.draw_regions``).
    caption_col : str, optional
        Column shown under each image (default ``path``, with ``page N`` for document pages, when present,
        else the row index).
    width : int
        Width of each cell in CSS pixels; images are shown as JPEG thumbnails at most twice as wide.

    Notes
    -----
    Returns nothing, so the grid shows once even as a cell's last line; :func:`images_html`
    gives the markup itself.  Outside IPython a short notice is printed instead, since a terminal
    cannot show images.
    """
    if col not in df.columns:
        raise KeyError(f"column {col!r} not found; the frame has {list(df.columns)}")
    head = first_rows(df, limit)
    captions = _captions(head, caption_col)
    try:
        from IPython import get_ipython
        from IPython.display import HTML, display
    except ImportError:
        get_ipython = None
    if get_ipython is not None and get_ipython() is not None:
        display(HTML(images_html(head[col].tolist(), captions, width)))
    else:
        print(f"display_images: {len(head)} image(s) ready, but images show only in Jupyter/IPython; "
              f"save the bytes of column {col!r} to .png files to view them elsewhere.")
