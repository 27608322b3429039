"""`linkinsights serve`'s children (the API and a worker), restarted when they exit.

A child that exits on its own (a crash, an outage it could not outlive) is started again after
a backoff that doubles from RESTART_MIN_SECONDS to RESTART_MAX_SECONDS, and resets once a child
has run for STABLE_SECONDS. Only `stop()` (serve's SIGINT/SIGTERM) ends the tree.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

RESTART_MIN_SECONDS = 0.5
RESTART_MAX_SECONDS = 30.0
STABLE_SECONDS = 60.0
STOP_GRACE_SECONDS = 8.0


@dataclass
class Child:
    name: str
    argv: Sequence[str]
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restart_at: float | None = None
    backoff: float = RESTART_MIN_SECONDS
    restarts: int = 0
    _log: Callable[[str], None] = field(default=print, repr=False)

    def start(self) -> None:
        self.process = subprocess.Popen(list(self.argv), env=self.env)
        self.started_at = time.monotonic()
        self.restart_at = None

    def check(self, now: float) -> None:
        """Notice an exit and schedule the restart; restart when it is due."""
        if self.restart_at is not None:
            if now >= self.restart_at:
                self.restarts += 1
                self._log(f"{self.name}: restarting (restart {self.restarts})")
                self.start()
            return
        if self.process is None or self.process.poll() is None:
            return
        if now - self.started_at >= STABLE_SECONDS:
            self.backoff = RESTART_MIN_SECONDS
        self._log(
            f"{self.name} exited unexpectedly (code {self.process.returncode}); "
            f"restarting in {self.backoff:.1f} s"
        )
        self.restart_at = now + self.backoff
        self.backoff = min(self.backoff * 2, RESTART_MAX_SECONDS)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class Supervisor:
    def __init__(self, children: list[Child], *, log: Callable[[str], None] = print) -> None:
        self.children = children
        for child in children:
            child._log = log

    def start(self) -> None:
        for child in self.children:
            child.start()

    def watch(self, stopped: Callable[[], bool], *, interval: float = 0.2) -> None:
        """Keep every child running until `stopped()`."""
        while not stopped():
            self.tick()
            time.sleep(interval)

    def tick(self) -> None:
        """Notice exits and make due restarts (watch calls it; so may a caller that waits)."""
        now = time.monotonic()
        for child in self.children:
            child.check(now)

    def stop(self) -> None:
        """SIGTERM to every child, SIGKILL to any still running after the grace period."""
        for child in self.children:
            if child.running():
                assert child.process is not None
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in self.children:
            if child.process is None:
                continue
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
