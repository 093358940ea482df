"""Headless Chromium for the report: a screenshot to look at, and the console messages to prove the page is
clean (no script errors, nothing blocked by its Content-Security-Policy, no outside request).

Only used when a `chromium` binary is present (Debian: `apt-get install -y chromium`); nothing here downloads.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars")
# No network: every request goes to a proxy on a port nothing listens on (the discard port), so it fails at once.
OFFLINE_FLAGS = ("--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>")
# Chromium logs every console message (console.error, uncaught exceptions, CSP violations) as
# `[pid:tid:date:INFO:CONSOLE:line] "message", source: url (line)` with --enable-logging=stderr.
CONSOLE_LINE = re.compile(r":CONSOLE(?::\d+)?\]\s*(.*)$")


@dataclass(frozen=True)
class BrowserRun:
    """What one headless Chromium run produced."""

    returncode: int
    dom: str
    console: tuple[str, ...]
    stderr: str


def find_chromium() -> str | None:
    """The Chromium binary: $C360_CHROMIUM if set, else the first of CANDIDATES on PATH, else None."""
    configured = os.environ.get("C360_CHROMIUM")
    if configured:
        return configured if Path(configured).exists() or shutil.which(configured) else None
    return next((found for name in CANDIDATES if (found := shutil.which(name))), None)


def console_messages(stderr: str) -> tuple[str, ...]:
    """The console messages in Chromium's stderr log."""
    return tuple(m.group(1) for line in stderr.splitlines() if (m := CONSOLE_LINE.search(line)))


def run_chromium(page: Path, *, screenshot: Path | None = None, dump_dom: bool = False,
                 window: tuple[int, int] = (1280, 4000), timeout: float = 90.0,
                 binary: str | None = None, offline: bool = False) -> BrowserRun:
    """Open `page` in headless Chromium with a throwaway profile; optionally save a PNG screenshot or print the
    DOM after the load event; `offline`: with no network at all. Raises FileNotFoundError without Chromium,
    TimeoutError if it hangs."""
    binary = binary or find_chromium()
    if binary is None:
        raise FileNotFoundError("no Chromium found (install the `chromium` package or set C360_CHROMIUM)")
    with tempfile.TemporaryDirectory(prefix="c360-chromium-") as profile:
        command = [binary, *FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
                   f"--window-size={window[0]},{window[1]}", *(OFFLINE_FLAGS if offline else ())]
        if screenshot is not None:
            Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
            command.append(f"--screenshot={Path(screenshot).resolve()}")
        if dump_dom:
            command.append("--dump-dom")
        command.append(Path(page).resolve().as_uri())
        # Own process group: on a hang, the renderer and GPU helpers go down with the browser.
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   start_new_session=True)
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise TimeoutError(f"chromium did not finish within {timeout:.0f}s") from exc
    return BrowserRun(process.returncode, out, console_messages(err), err)


def screenshot(page: Path, png: Path, *, window: tuple[int, int] = (1280, 4000), timeout: float = 90.0) -> BrowserRun:
    """Save a screenshot of `page` to `png`; raises RuntimeError if Chromium wrote none."""
    Path(png).unlink(missing_ok=True)  # an old screenshot must not pass for a new one
    run = run_chromium(page, screenshot=png, window=window, timeout=timeout)
    if run.returncode != 0 or not Path(png).is_file():
        raise RuntimeError(f"chromium exited {run.returncode} without a screenshot: {run.stderr[-500:]}")
    return run
