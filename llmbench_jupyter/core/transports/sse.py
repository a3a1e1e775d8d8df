"""A minimal incremental Server-Sent Events splitter over raw bytes.

It works on whatever the socket delivered, so the caller can stamp arrival before any
parsing; it only splits, it does not decode JSON. An event still incomplete past
``max_event`` bytes (a line that never ends) is refused rather than buffered forever.
"""

from __future__ import annotations


class SSESplitter:
    """Feed bytes, get complete events back as ``(event_name, data_bytes)`` pairs."""

    __slots__ = ("_buf", "max_event", "overflowed")

    def __init__(self, max_event: int = 4 * 1024 * 1024) -> None:
        self._buf = b""
        self.max_event = max_event
        #: Set once the pending event passed ``max_event``; its bytes are dropped.
        self.overflowed = False

    def feed(self, data: bytes) -> list[tuple[bytes, bytes]]:
        buf = self._buf + data if self._buf else data
        if b"\r" in buf:
            buf = buf.replace(b"\r\n", b"\n")
        events: list[tuple[bytes, bytes]] = []
        start = 0
        while True:
            end = buf.find(b"\n\n", start)
            if end < 0:
                break
            block = buf[start:end]
            start = end + 2
            if not block:
                continue
            name = b""
            data_lines = []
            for line in block.split(b"\n"):
                if line.startswith(b"data:"):
                    data_lines.append(line[6:] if line[5:6] == b" " else line[5:])
                elif line.startswith(b"event:"):
                    name = line[6:].strip()
                # comments (":") and other fields are ignored, as the SSE spec says
            if data_lines:
                events.append((name, b"\n".join(data_lines)))
        self._buf = buf[start:]
        if len(self._buf) > self.max_event:
            self._buf = b""
            self.overflowed = True
        return events

    @property
    def pending(self) -> bytes:
        """Bytes received after the last complete event (non-empty means a cut stream)."""
        return self._buf
