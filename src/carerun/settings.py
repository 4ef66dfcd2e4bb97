"""Global settings, in the style of ``osmnx.settings``: set them once, before loading networks.

Examples
--------
>>> import carerun.settings
>>> carerun.settings.cache_folder = "/tmp/carerun-cache"  # doctest: +SKIP

Attributes
----------
cache_folder : pathlib.Path
    Where road graphs, travel-time matrices and osmnx's downloads are cached. Default: the
    environment variable ``CARERUN_CACHE_DIR`` when set, else ``~/.cache/carerun``. A
    ``cache_dir`` argument given to a function overrides it for that call.
use_cache : bool
    Read and write the caches. Default ``True``; ``False`` rebuilds everything on every call.
requests_timeout : float
    Seconds to wait for an online service (Nominatim, Overpass) before giving up. Kept short so
    that building a network from a place name fails quickly when offline. Default ``20``.
"""

from __future__ import annotations

import os
from pathlib import Path

cache_folder: Path = Path(
    os.environ.get("CARERUN_CACHE_DIR") or Path.home() / ".cache" / "carerun"
).expanduser()
use_cache: bool = True
requests_timeout: float = 20.0
