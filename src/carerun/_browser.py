"""Headless Chromium for checking HTML outputs the way a person sees them (tests, not runtime).

:func:`find_chromium` looks on the ``PATH``; :func:`ensure_chromium` installs Debian's
``chromium`` package with apt-get when it is missing and the process may do so. Pages are
loaded with the network cut off (every host name fails to resolve and every request goes to a
closed local port), so a page that needs the internet shows it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
OFFLINE_FLAGS = (
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
)
BASE_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
)
_CONSOLE = re.compile(r":CONSOLE[:(]\d*\)?\]?\s*(.*)")


def find_chromium() -> str | None:
    """Path of a Chromium (or Chrome) executable on the ``PATH``, else None."""
    for name in NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def ensure_chromium(*, install: bool = True) -> str | None:
    """Chromium's path, installing Debian's ``chromium`` with apt-get when missing.

    Returns None (never raises) when it is absent and cannot be installed: not root, no
    apt-get, or the package registry is out of reach.
    """
    found = find_chromium()
    if found or not install:
        return found
    apt = shutil.which("apt-get")
    if apt is None or not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in ([apt, "update"], [apt, "install", "-y", "--no-install-recommends", "chromium"]):
        done = subprocess.run(cmd, capture_output=True, env=env, timeout=900, check=False)
        if done.returncode != 0:
            return None
    return find_chromium()


@dataclass(frozen=True)
class PageRun:
    """What loading a page showed: the DOM after scripts ran and the console's messages."""

    dom: str
    console: tuple[str, ...]


def _run(
    chromium: str, url: str, extra: Sequence[str], *, offline: bool, timeout: float
) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="carerun-chromium-") as profile:
        cmd = [
            chromium,
            *BASE_FLAGS,
            *(OFFLINE_FLAGS if offline else ()),
            f"--user-data-dir={profile}",
            "--enable-logging=stderr",
            "--v=0",
            *extra,
            url,
        ]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


def _url(page: str | Path) -> str:
    return Path(page).resolve().as_uri()


def load_page(
    page: str | Path,
    *,
    chromium: str | None = None,
    offline: bool = True,
    wait_ms: int = 5000,
    timeout: float = 120.0,
) -> PageRun:
    """Load `page` headless, let its scripts run for up to `wait_ms` of virtual time, and return
    the resulting DOM and every console message (errors, warnings and logs alike)."""
    exe = chromium or find_chromium()
    if exe is None:
        msg = "no Chromium found"
        raise FileNotFoundError(msg)
    done = _run(
        exe,
        _url(page),
        [f"--virtual-time-budget={wait_ms}", "--dump-dom"],
        offline=offline,
        timeout=timeout,
    )
    console = tuple(
        m.group(1).strip() for line in done.stderr.splitlines() if (m := _CONSOLE.search(line))
    )
    return PageRun(dom=done.stdout, console=console)


def screenshot(
    page: str | Path,
    png: str | Path,
    *,
    chromium: str | None = None,
    size: tuple[int, int] = (1400, 900),
    offline: bool = True,
    wait_ms: int = 5000,
    timeout: float = 120.0,
) -> Path:
    """Save a PNG of `page` as a browser window of `size` pixels shows it."""
    exe = chromium or find_chromium()
    if exe is None:
        msg = "no Chromium found"
        raise FileNotFoundError(msg)
    png = Path(png).resolve()
    done = _run(
        exe,
        _url(page),
        [
            f"--virtual-time-budget={wait_ms}",
            f"--screenshot={png}",
            f"--window-size={size[0]},{size[1]}",
        ],
        offline=offline,
        timeout=timeout,
    )
    if not png.exists():
        msg = f"Chromium wrote no screenshot (exit {done.returncode}): {done.stderr[-500:]}"
        raise RuntimeError(msg)
    return png
