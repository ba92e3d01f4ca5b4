"""Writes static/favicon.ico: the site's accent blue with a white "D", 16 and 32 px.

No image library needed: an ICO holding two 32-bit BMP images. Run it again after a change
of colour; the icon is committed, so the site never builds it at run time.
"""

from __future__ import annotations

import struct
from pathlib import Path

ACCENT = (0x0B, 0x5C, 0xAD)  # --accent in static/css/site.css
WHITE = (0xFF, 0xFF, 0xFF)
TARGET = Path(__file__).resolve().parent.parent / "static" / "favicon.ico"


def _pixel(x: float, y: float) -> tuple[int, int, int, int]:
    """The colour at (x, y) in a unit square: a rounded blue tile with a white "D"."""
    corner = 0.18
    cx, cy = min(max(x, corner), 1 - corner), min(max(y, corner), 1 - corner)
    if (x - cx) ** 2 + (y - cy) ** 2 > corner**2:
        return (0, 0, 0, 0)
    stem = 0.28 <= x <= 0.42 and 0.22 <= y <= 0.78
    dx, dy = (x - 0.42) / 0.32, (y - 0.5) / 0.28
    ring = x >= 0.42 and 0.62 <= dx * dx + dy * dy <= 1.0
    bar = 0.34 <= x <= 0.42 and (0.22 <= y <= 0.33 or 0.67 <= y <= 0.78)
    r, g, b = WHITE if stem or ring or bar else ACCENT
    return (r, g, b, 255)


def _bmp(size: int) -> bytes:
    header = struct.pack("<IiiHHIIiiII", 40, size, size * 2, 1, 32, 0, 0, 0, 0, 0, 0)
    rows = []
    for row in range(size - 1, -1, -1):  # BMP rows run bottom-up
        y = (row + 0.5) / size
        pixels = (_pixel((col + 0.5) / size, y) for col in range(size))
        rows.append(b"".join(struct.pack("BBBB", b, g, r, a) for r, g, b, a in pixels))
    mask = b"\x00" * (((size + 31) // 32) * 4 * size)  # alpha carries transparency
    return header + b"".join(rows) + mask


def ico(sizes: tuple[int, ...] = (16, 32)) -> bytes:
    images = [_bmp(size) for size in sizes]
    offset = 6 + 16 * len(sizes)
    entries = []
    for size, image in zip(sizes, images, strict=True):
        entries.append(struct.pack("<BBBBHHII", size, size, 0, 0, 1, 32, len(image), offset))
        offset += len(image)
    return struct.pack("<HHH", 0, 1, len(sizes)) + b"".join(entries) + b"".join(images)


if __name__ == "__main__":
    TARGET.write_bytes(ico())
    print(f"wrote {TARGET} ({TARGET.stat().st_size} bytes)")
