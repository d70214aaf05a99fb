"""An append-only, fsynced file of envelopes the queue could not take yet.

Why a file: the relay is the only place gateway events exist; if the queue is
unreachable and the process is then restarted, anything held only in memory is
gone. A batch counts as safe once its line is written *and* fsynced.

Layout, in ``<dir>/``:

- ``spool.log``: one record per line, ``<crc32 hex> <envelope JSON>\n``. The
  envelope JSON is ASCII (see :mod:`relay.batcher`), so it never holds a raw
  newline. A torn last line (crash mid-write) fails its checksum and is cut off
  at start-up; it had not been acknowledged, so nothing acknowledged is lost.
- ``spool.offset``: the byte offset up to which records have been delivered,
  replaced atomically (write, fsync, rename) after each delivery. A crash
  between a send and this update re-sends one record: a duplicate, which the
  lake ignores. Records are replayed strictly in file order.

When every record has been delivered the file is truncated, so the spool only
takes disk while the queue is down. Methods are blocking (disk I/O): call them
through ``asyncio.to_thread``; a lock makes them safe from several threads.
"""

from __future__ import annotations

import os
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Final

LOG: Final = "spool.log"
OFFSET: Final = "spool.offset"


def _record(text: str) -> bytes:
    body = text.encode("ascii")
    return b"%08x " % zlib.crc32(body) + body + b"\n"


def _parse(line: bytes) -> str | None:
    if not line.endswith(b"\n") or len(line) < 10 or line[8:9] != b" ":
        return None
    body = line[9:-1]
    try:
        expected = int(line[:8], 16)
    except ValueError:
        return None
    return body.decode("ascii") if zlib.crc32(body) == expected else None


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._log = folder / LOG
        self._offset_file = folder / OFFSET
        self._lock = threading.Lock()
        self._fh = open(self._log, "ab")  # noqa: SIM115 - held open for the life of the spool
        _fsync_dir(folder)  # the file's directory entry must survive a crash too
        self.offset = self._read_offset()
        self.pending = self._recover()

    # -- start-up -------------------------------------------------------------------------
    def _read_offset(self) -> int:
        try:
            return int(self._offset_file.read_text().strip() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def _recover(self) -> int:
        """Count undelivered records; cut a torn tail; reset an offset past the end."""
        size = self._log.stat().st_size
        if self.offset > size:
            self._write_offset(0)
        good_end, count = self.offset, 0
        with open(self._log, "rb") as fh:
            fh.seek(self.offset)
            for line in fh:
                if _parse(line) is None:
                    break
                good_end += len(line)
                count += 1
        if good_end < size:
            os.truncate(self._log, good_end)
        return count

    # -- writing --------------------------------------------------------------------------
    def append(self, texts: list[str]) -> None:
        """Append envelopes and fsync; when this returns they survive a crash."""
        if not texts:
            return
        data = b"".join(_record(t) for t in texts)
        with self._lock:
            self._fh.write(data)
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self.pending += len(texts)

    # -- replay ---------------------------------------------------------------------------
    def peek(self) -> Iterator[tuple[str, int]]:
        """Undelivered envelopes in order, each with the offset just past it (to commit)."""
        position = self.offset
        with open(self._log, "rb") as fh:
            fh.seek(position)
            for line in fh:
                text = _parse(line)
                if text is None:
                    return
                position += len(line)
                yield text, position

    def commit(self, offset: int, *, delivered: int = 1) -> None:
        """Mark everything before ``offset`` delivered; truncate the file once all of it is."""
        with self._lock:
            self.pending = max(0, self.pending - delivered)
            if offset >= self._log.stat().st_size:
                self._fh.truncate(0)
                self._fh.flush()
                os.fsync(self._fh.fileno())
                offset = 0
                self.pending = 0
            self._write_offset(offset)

    def _write_offset(self, offset: int) -> None:
        tmp = self._offset_file.with_suffix(".tmp")
        with open(tmp, "w") as fh:
            fh.write(str(offset))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self._offset_file)
        self.offset = offset

    def size_bytes(self) -> int:
        return max(0, self._log.stat().st_size - self.offset)

    def close(self) -> None:
        with self._lock:
            self._fh.close()
