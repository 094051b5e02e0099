"""The pixel size of an image from its header alone, before anything is decoded: a 100 KB PNG
can declare 50000x50000 pixels (an "image bomb") and decoding it would need gigabytes.

Covers the formats OpenCV decodes: PNG, JPEG, GIF, BMP, WebP, TIFF (and BigTIFF), JPEG 2000
(JP2 and raw codestreams), AVIF/HEIF, the Netpbm family (PBM/PGM/PPM/PAM/PFM), Radiance HDR
and Sun raster. ``image_header`` reads at most a few small pieces of a file (it seeks, as TIFF
and ISO boxes point anywhere) and raises ValueError for anything it cannot size.
"""
from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable

HEAD = 1 << 16  # bytes read up front; the formats with pointers (TIFF, ISO boxes) read more by seeking
MAX_STEPS = 4096  # markers, boxes or tags walked at most (a corrupt file cannot loop for long)


@dataclass(frozen=True)
class ImageHeader:
    format: str
    width: int
    height: int

    @property
    def pixels(self) -> int:
        return self.width * self.height


class _Source:
    """Random access to bytes in memory or a file (``at(offset, n)`` may answer fewer bytes)."""

    def __init__(self, read_at: Callable[[int, int], bytes], size: int):
        self.at, self.size = read_at, size

    @classmethod
    def of_bytes(cls, data: bytes) -> "_Source":
        view = memoryview(data)
        return cls(lambda off, n: bytes(view[off:off + n]) if off >= 0 else b"", len(data))

    @classmethod
    def of_file(cls, f: BinaryIO, size: int) -> "_Source":
        def read_at(off: int, n: int) -> bytes:
            if off < 0 or off >= size:
                return b""
            f.seek(off)
            return f.read(n)

        return cls(read_at, size)

    def need(self, off: int, n: int) -> bytes:
        b = self.at(off, n)
        if len(b) < n:
            raise ValueError("header is cut short")
        return b


def image_header(src: bytes | str | Path) -> ImageHeader:
    """Format and pixel size of an image (bytes, or a file path) from its header; ValueError
    when the bytes are no image format reelscope reads or the header is damaged."""
    if isinstance(src, (bytes, bytearray, memoryview)):
        return _sniff(_Source.of_bytes(bytes(src)))
    path = Path(src)
    with open(path, "rb") as f:
        return _sniff(_Source.of_file(f, path.stat().st_size))


def _sniff(s: _Source) -> ImageHeader:
    head = s.at(0, HEAD)
    for magic, parse in _MAGIC:
        if head.startswith(magic):
            h = parse(s, head)
            if h.width <= 0 or h.height <= 0:
                raise ValueError(f"{h.format} header declares {h.width}x{h.height} pixels")
            return h
    if head[4:8] == b"ftyp":
        return _isobmff(s, head)
    if len(head) >= 2 and head[:1] == b"P" and head[1:2] in b"1234567Ff":
        return _netpbm(head)
    raise ValueError("not a known image format (PNG, JPEG, GIF, BMP, WebP, TIFF, JPEG 2000, AVIF, "
                     "PNM, HDR, Sun raster)")


def _png(s: _Source, head: bytes) -> ImageHeader:
    b = s.need(8, 16)
    if b[4:8] != b"IHDR":
        raise ValueError("PNG without an IHDR chunk first")
    w, h = struct.unpack(">II", b[8:16])
    return ImageHeader("png", w, h)


_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg(s: _Source, head: bytes) -> ImageHeader:
    off = 2
    for _ in range(MAX_STEPS):
        b = s.need(off, 2)
        if b[0] != 0xFF:
            raise ValueError("JPEG marker expected")
        marker = b[1]
        if marker == 0xFF:  # fill byte
            off += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            off += 2
            continue
        if marker in (0xD9, 0xDA):
            break  # end of image / start of scan before any frame header
        length = struct.unpack(">H", s.need(off + 2, 2))[0]
        if marker in _SOF:
            h, w = struct.unpack(">HH", s.need(off + 5, 4))
            return ImageHeader("jpeg", w, h)
        if length < 2:
            raise ValueError("JPEG segment with a bad length")
        off += 2 + length
    raise ValueError("JPEG without a frame header (SOF)")


def _gif(s: _Source, head: bytes) -> ImageHeader:
    w, h = struct.unpack("<HH", s.need(6, 4))
    return ImageHeader("gif", w, h)


def _bmp(s: _Source, head: bytes) -> ImageHeader:
    dib = struct.unpack("<I", s.need(14, 4))[0]
    if dib == 12:  # BITMAPCOREHEADER
        w, h = struct.unpack("<HH", s.need(18, 4))
    else:
        w, h = struct.unpack("<ii", s.need(18, 8))
    return ImageHeader("bmp", abs(w), abs(h))


def _webp(s: _Source, head: bytes) -> ImageHeader:
    if s.need(8, 4) != b"WEBP":
        raise ValueError("RIFF file that is not WebP")
    chunk = s.need(12, 4)
    if chunk == b"VP8X":
        b = s.need(24, 6)
        return ImageHeader("webp", 1 + int.from_bytes(b[:3], "little"), 1 + int.from_bytes(b[3:], "little"))
    if chunk == b"VP8L":
        b = s.need(21, 4)
        bits = int.from_bytes(b, "little")
        return ImageHeader("webp", 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF))
    if chunk == b"VP8 ":
        b = s.need(23, 7)
        if b[:3] != b"\x9d\x01\x2a":
            raise ValueError("WebP VP8 frame without its start code")
        w, h = struct.unpack("<HH", b[3:7])
        return ImageHeader("webp", w & 0x3FFF, h & 0x3FFF)
    raise ValueError(f"WebP with an unknown first chunk {chunk!r}")


def _tiff(s: _Source, head: bytes) -> ImageHeader:
    e = "<" if head[:2] == b"II" else ">"
    version = struct.unpack(e + "H", s.need(2, 2))[0]
    big = version == 43
    if big:  # BigTIFF: 8-byte offsets and counts, 20-byte entries
        ifd = struct.unpack(e + "Q", s.need(8, 8))[0]
        count = struct.unpack(e + "Q", s.need(ifd, 8))[0]
        first, size = ifd + 8, 20
    else:
        ifd = struct.unpack(e + "I", s.need(4, 4))[0]
        count = struct.unpack(e + "H", s.need(ifd, 2))[0]
        first, size = ifd + 2, 12
    dims: dict[int, int] = {}
    for i in range(min(count, MAX_STEPS)):
        entry = s.need(first + i * size, size)
        tag, typ = struct.unpack(e + "HH", entry[:4])
        if tag in (256, 257):  # ImageWidth, ImageLength: SHORT, LONG or LONG8, one value
            value = entry[12:] if big else entry[8:]
            fmt = {3: "H", 4: "I", 16: "Q"}.get(typ)
            if fmt is None:
                raise ValueError(f"TIFF size tag {tag} of type {typ}")
            dims[tag] = struct.unpack(e + fmt, value[:struct.calcsize(fmt)])[0]
    if 256 not in dims or 257 not in dims:
        raise ValueError("TIFF without ImageWidth/ImageLength")
    return ImageHeader("tiff", dims[256], dims[257])


def _j2k_siz(s: _Source, off: int) -> ImageHeader:
    b = s.need(off, 24)
    if b[:4] != b"\xff\x4f\xff\x51":
        raise ValueError("JPEG 2000 codestream without SIZ")
    xsiz, ysiz, xo, yo = struct.unpack(">IIII", b[8:24])
    return ImageHeader("jpeg2000", xsiz - xo, ysiz - yo)


def _j2k(s: _Source, head: bytes) -> ImageHeader:
    return _j2k_siz(s, 0)


def _boxes(s: _Source, start: int, end: int):
    """(type, payload offset, payload end) of the ISO base media boxes between start and end."""
    off = start
    for _ in range(MAX_STEPS):
        if off + 8 > end:
            return
        size, typ = struct.unpack(">I4s", s.need(off, 8))
        hdr = 8
        if size == 1:
            size, hdr = struct.unpack(">Q", s.need(off + 8, 8))[0], 16
        elif size == 0:
            size = end - off
        if size < hdr:
            raise ValueError("box with a bad size")
        yield typ, off + hdr, min(off + size, end)
        off += size


def _jp2(s: _Source, head: bytes) -> ImageHeader:
    for typ, body, end in _boxes(s, 0, s.size):
        if typ == b"jp2h":
            for t2, b2, _e2 in _boxes(s, body, end):
                if t2 == b"ihdr":
                    h, w = struct.unpack(">II", s.need(b2, 8))
                    return ImageHeader("jpeg2000", w, h)
        if typ == b"jp2c":
            return _j2k_siz(s, body)
    raise ValueError("JP2 without an image header box")


def _isobmff(s: _Source, head: bytes) -> ImageHeader:
    """AVIF/HEIF: the largest 'ispe' (image spatial extents) property in meta/iprp/ipco."""
    best = None
    for typ, body, end in _boxes(s, 0, s.size):
        if typ != b"meta":
            continue
        for t2, b2, e2 in _boxes(s, body + 4, end):  # meta is a FullBox
            if t2 != b"iprp":
                continue
            for t3, b3, e3 in _boxes(s, b2, e2):
                if t3 != b"ipco":
                    continue
                for t4, b4, _e4 in _boxes(s, b3, e3):
                    if t4 == b"ispe":
                        w, h = struct.unpack(">II", s.need(b4 + 4, 8))
                        if best is None or w * h > best[0] * best[1]:
                            best = (w, h)
        break
    if best is None:
        raise ValueError("ISO image file (AVIF/HEIF) without image extents ('ispe')")
    return ImageHeader("avif", *best)


_TOKEN = re.compile(rb"(?:\s|#[^\n]*\n?)*(\S+)")


def _netpbm(head: bytes) -> ImageHeader:
    kind = head[1:2]
    if kind == b"7":  # PAM: WIDTH/HEIGHT lines up to ENDHDR
        text = head.split(b"ENDHDR", 1)[0]
        w = re.search(rb"\bWIDTH\s+(\d+)", text)
        h = re.search(rb"\bHEIGHT\s+(\d+)", text)
        if not (w and h):
            raise ValueError("PAM without WIDTH/HEIGHT")
        return ImageHeader("pam", int(w.group(1)), int(h.group(1)))
    pos, values = 2, []
    for _ in range(2):
        m = _TOKEN.match(head, pos)
        if not m or not m.group(1).isdigit():
            raise ValueError("PNM header without width and height")
        values.append(int(m.group(1)))
        pos = m.end()
    return ImageHeader("pfm" if kind in b"Ff" else "pnm", values[0], values[1])


_HDR_RES = re.compile(rb"^([-+])([XY]) +(\d+) +([-+])([XY]) +(\d+)\s*$")


def _hdr(s: _Source, head: bytes) -> ImageHeader:
    lines = head.split(b"\n")
    for i, line in enumerate(lines[:-1]):
        if line.strip() == b"" and i > 0:  # the resolution line follows the blank line
            m = _HDR_RES.match(lines[i + 1])
            if not m or m.group(2) == m.group(5):
                raise ValueError("Radiance HDR without a resolution line")
            dims = {m.group(2): int(m.group(3)), m.group(5): int(m.group(6))}
            return ImageHeader("hdr", dims[b"X"], dims[b"Y"])
    raise ValueError("Radiance HDR header without an end")


def _sun(s: _Source, head: bytes) -> ImageHeader:
    w, h = struct.unpack(">II", s.need(4, 8))
    return ImageHeader("sunraster", w, h)


_MAGIC: list[tuple[bytes, Callable[[_Source, bytes], ImageHeader]]] = [
    (b"\x89PNG\r\n\x1a\n", _png),
    (b"\xff\xd8", _jpeg),
    (b"GIF87a", _gif), (b"GIF89a", _gif),
    (b"BM", _bmp),
    (b"RIFF", _webp),
    (b"II*\x00", _tiff), (b"MM\x00*", _tiff), (b"II+\x00", _tiff), (b"MM\x00+", _tiff),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", _jp2),
    (b"\xff\x4f\xff\x51", _j2k),
    (b"#?RADIANCE", _hdr), (b"#?RGBE", _hdr),
    (b"\x59\xa6\x6a\x95", _sun),
]
