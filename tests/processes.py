"""Helpers for tests that start real processes (Celery worker, beat, Redis)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable


def wait_for(condition: Callable[[], object], timeout: float = 45.0, what: str = "") -> object:
    """Poll ``condition`` until it returns something truthy (returned) or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.2)
    raise AssertionError(f"condition not met within {timeout} s{': ' + what if what else ''}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it does not exit within 20 s."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
