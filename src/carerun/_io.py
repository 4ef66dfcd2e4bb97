"""Safe file writing shared by every output: atomic replace and spreadsheet-safe cells."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _file_mode() -> int:
    """The mode a plain ``open()`` would give a new file (mkstemp's 0600 is too private)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def safe_cell(value: Any) -> Any:
    """Neutralise a text cell a spreadsheet would run as a formula (CSV/formula injection).

    Text beginning with ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a leading
    apostrophe; numbers and other values pass through unchanged.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "w", **kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file beside `path`; on success move it into place in one step.

    A crash or an exception leaves any earlier file at `path` untouched and no partial file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _file_mode())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path` for libraries that write files themselves
    (openpyxl, GeoPackage); it replaces `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    os.unlink(tmp)
    try:
        yield Path(tmp)
        os.chmod(tmp, _file_mode())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_csv(frame: pd.DataFrame, path: str | Path, *, decimals: int | None = None) -> Path:
    """Write `frame` to `path` as UTF-8 CSV, atomically, every text cell through
    :func:`safe_cell`; with `decimals`, floats are rounded to that many places. Returns `path`."""
    import pandas as pd

    path = Path(path)
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_object_dtype(out[col]) or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(safe_cell)
        elif decimals is not None and pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].round(decimals)
    with atomic_write(path, "w", encoding="utf-8", newline="") as fh:
        out.to_csv(fh, index=False)
    return path
