"""A local append-only spool of encoded clicks, for when Redis does not answer (SPEC §3.1).

Each process appends to a file of its own (`<dir>/<host>-<pid>-<random>.spool`), one JSON
click per line, and holds an exclusive `flock` on it while it is open. Appends are grouped:
whatever is waiting is written and fsynced once, in a thread, before any of it is answered.
A replay first closes the process's own file (a new one is opened by the next append), then
takes every spool file in the folder that no live process holds (its own, and those a dead
process left), sends its lines on, and unlinks it while still holding its lock. A line cut
short by a crash was never fsynced, so never answered: it is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

log = logging.getLogger("linkinsights.clicks")

SUFFIX = ".spool"


class Spool:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._fd: int | None = None
        self._path: Path | None = None
        self._lock = asyncio.Lock()
        self._size = 0  # bytes in this process's open file

    @property
    def size(self) -> int:
        return self._size

    def has_data(self) -> bool:
        return self._size > 0 or any(self._files())

    def total_bytes(self) -> int:
        """Bytes in every spool file of the folder (this process's and others')."""
        total = 0
        for path in self._files():
            with contextlib.suppress(OSError):
                total += path.stat().st_size
        return total

    async def append(self, lines: Sequence[bytes]) -> None:
        data = b"".join(line + b"\n" for line in lines)
        async with self._lock:
            await asyncio.to_thread(self._write, data)

    def _write(self, data: bytes) -> None:
        if self._fd is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            name = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}{SUFFIX}"
            path = self.folder / name
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self._fd, self._path, self._size = fd, path, 0
            _fsync_dir(self.folder)
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        os.fsync(self._fd)
        self._size += len(data)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the lock: the file is now anyone's to replay
            self._fd, self._path, self._size = None, None, 0

    def _files(self) -> list[Path]:
        try:
            return sorted(p for p in self.folder.iterdir() if p.name.endswith(SUFFIX))
        except FileNotFoundError:
            return []

    async def replay(self, send: Callable[[Sequence[bytes]], Awaitable[None]]) -> int:
        """Send the lines of every spool file nobody holds, then remove the file; how many.

        `send` raising stops the replay; the file stays for the next one.
        """
        async with self._lock:
            self.close()
        replayed = 0
        for path in self._files():
            try:
                fd = os.open(path, os.O_RDWR)
            except FileNotFoundError:
                continue
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # a live process's own file, or being replayed by one
                if os.fstat(fd).st_nlink == 0:
                    continue  # replayed and removed by another process just now
                data = await asyncio.to_thread(_read_all, fd)
                lines = data.split(b"\n")
                if lines and lines[-1]:
                    log.warning("skipping a torn last line in %s", path.name)
                lines = [line for line in lines[:-1] if line]
                if lines:
                    await send(lines)
                path.unlink()
                _fsync_dir(self.folder)
                replayed += len(lines)
            finally:
                os.close(fd)
        return replayed


def _read_all(fd: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
