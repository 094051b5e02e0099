"""Image bombs for tests and bench/bench_image_bombs.py: tiny files that declare huge images.

``png_bomb(30000, 30000)`` is a valid 1-bit greyscale PNG of 900 megapixels, all black, about
110 KB (zlib squeezes the all-zero rows about 1000:1); decoded to RGB it would need 2.7 GB."""
from __future__ import annotations

import struct
import zlib


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int, height: int) -> bytes:
    """A complete, valid PNG of ``width`` x ``height`` black pixels (1 bit per pixel)."""
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    z = zlib.compressobj(9)
    parts = []
    block = row * 256
    for start in range(0, height, 256):
        parts.append(z.compress(block if height - start >= 256 else row * (height - start)))
    parts.append(z.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", b"".join(parts)) + _chunk(b"IEND", b"")


def jpeg_header_bomb(width: int, height: int) -> bytes:
    """A JPEG whose frame header declares ``width`` x ``height`` (up to 65535) over a real 8x8
    baseline image: decoders allocate the declared size."""
    import cv2
    import numpy as np

    ok, buf = cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))
    data = bytearray(buf.tobytes())
    i = data.index(b"\xff\xc0")
    data[i + 5:i + 9] = struct.pack(">HH", height, width)
    return bytes(data)
