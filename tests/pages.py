"""Look at a produced HTML page as a person would: what it would fetch from the network, and
what headless Chromium draws of it with no network, in a window the size of a projector."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

# An absolute URL, or a protocol-relative one: what a page would fetch from another host.
_REMOTE = r"""\s*["']?\s*(?:[a-z][a-z0-9+.-]*:)?//"""
EXTERNAL = re.compile(
    "|".join(
        [
            rf"<(?:script|img|iframe|source|embed|audio|video|track)\b[^>]*?\bsrc\s*={_REMOTE}",
            rf"<link\b[^>]*?\bhref\s*={_REMOTE}",
            rf"<object\b[^>]*?\bdata\s*={_REMOTE}",
            rf"@import\s*(?:url\()?{_REMOTE}",
            rf"url\({_REMOTE}",
        ]
    ),
    re.IGNORECASE,
)


def external_references(page: str) -> list[str]:
    """Every script, style, font, image or frame that `page` would load from another host."""
    return [match.group(0) for match in EXTERNAL.finditer(page)]


CHROMIUM = next(
    (found for name in ("chromium", "chromium-browser") if (found := shutil.which(name))), None
)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="needs Chromium: apt-get install chromium (.ci/run installs it)"
)


def offline_dom(page: Path, width: int = 1400, height: int = 900) -> str:
    """The DOM of `page` once its scripts ran, in headless Chromium where every request to the
    network fails (its proxy is a closed port on loopback)."""
    assert CHROMIUM, "needs Chromium"
    command = [
        CHROMIUM, "--headless", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run",
        "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
        f"--window-size={width},{height}", "--virtual-time-budget=10000",
        "--dump-dom", page.resolve().as_uri(),
    ]  # fmt: skip
    if os.geteuid() == 0:  # Chromium refuses to run as root inside its sandbox
        command.insert(1, "--no-sandbox")
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout
