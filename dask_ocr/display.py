"""Show images from a DataFrame column inline in Jupyter."""

from __future__ import annotations

import base64
import html

import pandas as pd

__all__ = ["display_images", "images_html"]


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


def display_images(df, col: str, limit: int = 5, caption_col: str | None = None, width: int = 320):
    """Display up to ``limit`` images of column ``col`` in a Jupyter notebook.

    Parameters
    ----------
    df : pandas.DataFrame or dask.dataframe.DataFrame
        Only the first ``limit`` rows are computed.
    col : str
        Column of encoded image bytes (e.g. the output of ``df.ocr.draw_regions``).
    caption_col : str, optional
        Column shown under each image (default ``path`` when present, else the row index).

    Returns
    -------
    str
        The HTML, also displayed when running inside IPython.  Outside IPython a short notice is
        printed instead, since a terminal cannot show images.
    """
    if col not in df.columns:
        raise KeyError(f"column {col!r} not found; the frame has {list(df.columns)}")
    head = df.head(limit) if isinstance(df, pd.DataFrame) else df.head(limit, npartitions=-1)
    caption_col = caption_col or ("path" if "path" in head.columns else None)
    captions = head[caption_col].tolist() if caption_col else head.index.tolist()
    markup = images_html(head[col].tolist(), captions, width)
    try:
        from IPython import get_ipython
        from IPython.display import HTML, display
    except ImportError:
        get_ipython = None
    if get_ipython is not None and get_ipython() is not None:
        display(HTML(markup))
    else:
        print(f"display_images: {len(head)} image(s) ready, but images show only in Jupyter/IPython; "
              f"save the bytes of column {col!r} to .png files to view them elsewhere.")
    return markup
