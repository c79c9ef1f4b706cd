"""Show images from a DataFrame column inline in Jupyter."""

from __future__ import annotations

import base64
import html

import pandas as pd

__all__ = ["display_images", "images_html", "first_rows"]


def images_html(images: list, captions: list, width: int = 320) -> str:
    """An HTML grid (cells ``width`` pixels wide) of PNG/JPEG byte strings with captions.

    Null cells show "no image" above their caption.
    """
    cells = []
    for data, caption in zip(images, captions):
        label = html.escape(str(caption))
        if data is None or (not isinstance(data, (bytes, bytearray, memoryview))):
            body = "<em>no image</em>"
        else:
            data = bytes(data)
            kind = "jpeg" if data[:2] == b"\xff\xd8" else "png"
            body = f'<img src="data:image/{kind};base64,{base64.b64encode(data).decode("ascii")}" style="width:100%">'
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
        Column shown under each image (default ``path`` when present, else the row index).

    Notes
    -----
    Returns nothing, so the grid shows once even as a cell's last line; :func:`images_html`
    gives the markup itself.  Outside IPython a short notice is printed instead, since a terminal
    cannot show images.
    """
    if col not in df.columns:
        raise KeyError(f"column {col!r} not found; the frame has {list(df.columns)}")
    head = first_rows(df, limit)
    caption_col = caption_col or ("path" if "path" in head.columns else None)
    captions = head[caption_col].tolist() if caption_col else head.index.tolist()
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
