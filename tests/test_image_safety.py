"""Image bombs: an image's pixel count is read from its header and checked before anything is
decoded (library reader and every API image upload); undecodable bytes are 415; image analyses
inside requests are bounded (429 with Retry-After). HTTP behaviour is tested on real servers."""
from __future__ import annotations

import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import DATA, encode, scene, shot_frame
from image_bombs import jpeg_header_bomb, png_bomb
from live_server import multipart, peak_rss_mb, process_server, request, thread_server

from reelscope.api import create_app
from reelscope.errors import ImageTooLarge, MediaError
from reelscope.media.image import check_image, decode_image, max_image_pixels, read_image
from reelscope.media.image_header import image_header
from reelscope.media.info import probe

W, H = 53, 37  # odd sizes: a parser mixing up width and height or bytes would show


@pytest.fixture(scope="module")
def bombs() -> dict[int, bytes]:
    return {n: png_bomb(n, n) for n in (30000, 50000)}


def _img(channels: int = 3) -> np.ndarray:
    rng = np.random.default_rng(5)
    return rng.integers(0, 255, (H, W, channels) if channels > 1 else (H, W), dtype=np.uint8)


# ---- header parsing ---------------------------------------------------------------------------
@pytest.mark.parametrize("ext,kind,params", [
    (".png", "rgb", []), (".jpg", "rgb", []), (".jpg", "rgb", [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]),
    (".webp", "rgb", []), (".webp", "rgb", [cv2.IMWRITE_WEBP_QUALITY, 101]), (".bmp", "rgb", []),
    (".tif", "rgb", []), (".tif", "rgb", [cv2.IMWRITE_TIFF_COMPRESSION, 1]), (".jp2", "rgb", []),
    (".ppm", "rgb", []), (".pgm", "grey", []), (".pbm", "grey", []), (".pam", "rgb", []), (".pfm", "float", []),
    (".hdr", "float", []), (".ras", "rgb", []), (".avif", "rgb", []), (".gif", "rgb", [])])
def test_header_size_matches_decoded_size(ext, kind, params):
    img = {"rgb": _img(), "grey": _img(1), "float": _img().astype(np.float32) / 255}[kind]
    try:
        ok, buf = cv2.imencode(ext, img, params)
    except cv2.error:
        ok = False
    if not ok:
        pytest.skip(f"this OpenCV build does not write {ext}")
    data = buf.tobytes()
    decoded = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    head = image_header(data)
    assert (head.width, head.height) == (decoded.shape[1], decoded.shape[0]) == (W, H), ext
    assert decode_image(data, "x").shape == (H, W, 3)


def test_header_of_pillow_variants(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    rgba = Image.fromarray(_img(4), "RGBA")
    cases = {"alpha.webp": dict(lossless=True), "alpha.png": {}, "big.tiff": dict(big_tiff=True),
             "lzw.tiff": dict(compression="tiff_lzw"), "p.gif": {}, "cmyk.jpg": {}}
    for name, kw in cases.items():
        im = rgba.convert("CMYK") if name.startswith("cmyk") else rgba if "alpha" in name else rgba.convert("RGB")
        try:
            im.save(tmp_path / name, **kw)
        except (TypeError, ValueError, OSError, KeyError) as e:  # an option this Pillow lacks
            pytest.skip(f"Pillow cannot write {name}: {e}")
        head = image_header(tmp_path / name)
        assert (head.width, head.height) == (W, H), name
        assert read_image(tmp_path / name).shape == (H, W, 3), name


def test_header_of_real_images():
    files = sorted(p for ext in ("jpg", "png", "webp", "gif", "bmp", "tif") for p in DATA.rglob(f"*.{ext}"))[:60]
    if not files:
        pytest.skip("no images under the test data")
    for p in files:
        img = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
        if img is None:
            continue
        head = image_header(p)
        assert (head.height, head.width) == img.shape[:2], p


@pytest.mark.parametrize("data,why", [
    (b"", "not a known image format"), (b"plain text, not an image", "not a known image format"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "cut short"), (b"\xff\xd8\xff\xe0\x00\x10JFIF", "cut short"),
    (b"RIFF\x00\x00\x00\x00WAVEfmt ", "not WebP")])
def test_bad_headers_are_value_errors(data, why):
    with pytest.raises(ValueError, match=why):
        image_header(data)


# ---- the library reader -------------------------------------------------------------------------
def test_read_image_refuses_bombs_before_decoding(tmp_path, bombs, monkeypatch):
    for n, data in bombs.items():
        p = tmp_path / f"bomb{n}.png"
        p.write_bytes(data)
        assert len(data) < 400_000
        with pytest.raises(ImageTooLarge, match=rf"bomb{n}.png: {n}x{n} pixels \(\d+ megapixels\) is over the limit "
                                                r"of 50 megapixels"):
            read_image(p)
    p = tmp_path / "declared.jpg"
    p.write_bytes(jpeg_header_bomb(60000, 60000))
    with pytest.raises(ImageTooLarge, match="60000x60000"):
        read_image(p, max_side=512)
    # the limit: a parameter, else the environment
    small = tmp_path / "small.png"
    cv2.imwrite(str(small), _img())
    with pytest.raises(ImageTooLarge, match="over the limit of 0.001 megapixels"):
        read_image(small, max_pixels=1000)
    assert read_image(small, max_pixels=W * H).shape == (H, W, 3)
    monkeypatch.setenv("REELSCOPE_MAX_IMAGE_PIXELS", "1e3")
    assert max_image_pixels() == 1000
    with pytest.raises(ImageTooLarge):
        read_image(small)
    monkeypatch.setenv("REELSCOPE_MAX_IMAGE_PIXELS", "lots")
    with pytest.raises(MediaError, match="REELSCOPE_MAX_IMAGE_PIXELS: not a number"):
        read_image(small)


def test_read_image_damaged_and_not_images(tmp_path):
    ok, buf = cv2.imencode(".png", _img())
    cut = tmp_path / "cut.png"
    cut.write_bytes(buf.tobytes()[:60])  # a valid header, the pixel data cut off
    with pytest.raises(MediaError, match="cut.png: not an image that can be decoded"):
        read_image(cut)
    text = tmp_path / "notes.jpg"
    text.write_text("hello")
    with pytest.raises(MediaError, match=r"notes.jpg: not an image that can be decoded \(corrupt or unsupported format: "
                                         r"not a known image"):
        read_image(text)
    with pytest.raises(MediaError, match="empty"):
        decode_image(b"", "up.png")
    assert check_image(buf.tobytes(), "x").format == "png"


def test_probe_refuses_video_frames_over_the_limit(tmp_path, monkeypatch):
    w = scene(3)
    video = encode(tmp_path / "v.mp4", [shot_frame(w, t) for t in range(6)])
    assert probe(video).width == 192
    monkeypatch.setenv("REELSCOPE_MAX_IMAGE_PIXELS", "10000")
    with pytest.raises(ImageTooLarge, match="v.mp4: 192x108 pixels"):
        probe(video)


# ---- the API over HTTP ----------------------------------------------------------------------------
def _post_image(url: str, path: str, name: str, data: bytes, field="file", fields=None, headers=None):
    body, ctype = multipart(fields, [(field, name, data)])
    return request(url + path, "POST", body, {"Content-Type": ctype, **(headers or {})})


def test_api_image_uploads_refuse_bombs_and_garbage(tmp_path, bombs):
    app = create_app(tmp_path / "archive")
    with thread_server(app) as url:
        for n, data in bombs.items():
            for path, extra in (("/api/analyze/image", {}), ("/api/identities/photo", {"name": "Bomb"})):
                status, _, body = _post_image(url, path, f"bomb{n}.png", data, fields=extra)
                assert status == 413, (path, body)
                detail = json.loads(body)["detail"]
                assert detail.startswith(f"bomb{n}.png: {n}x{n} pixels") and "limit of 50 megapixels" in detail
                assert str(tmp_path) not in detail
            body, ctype = multipart(None, [("files", f"bomb{n}.png", data), ("files", "notes.jpg", b"plain text"),
                                           ("files", "fine.png", cv2.imencode(".png", _img())[1].tobytes())])
            status, _, out = request(url + "/api/analyze/images", "POST", body, {"Content-Type": ctype})
            assert status == 200, out
            bomb, notes, fine = json.loads(out)
            assert bomb["status"] == 413 and "50 megapixels" in bomb["error"] and bomb["faces"] == []
            assert notes["status"] == 415 and notes["error"].startswith("notes.jpg: not an image")
            assert fine["error"] is None and (fine["width"], fine["height"]) == (W, H)
            for files, want in (([("files", "a.png", data), ("files", "b.png", data)], 413),
                                ([("files", "a.png", data), ("files", "notes.jpg", b"plain text")], 415)):
                body, ctype = multipart(None, files)  # not one usable file: the batch gets that status
                status, _, out = request(url + "/api/analyze/images", "POST", body, {"Content-Type": ctype})
                assert status == want and json.loads(out)["detail"].startswith("none of the 2 file(s)"), out
        status, _, body = _post_image(url, "/api/analyze/image", "notes.jpg", b"plain text")
        assert status == 415 and json.loads(body)["detail"].startswith("notes.jpg: not an image that can be decoded")
        status, _, body = _post_image(url, "/api/analyze/image", "declared.jpg", jpeg_header_bomb(65000, 65000))
        assert status == 413 and "65000x65000" in json.loads(body)["detail"]
        # slideshow uploads are checked when they arrive, not later in the job
        body, ctype = multipart({"options": json.dumps({"music": str(tmp_path)})},
                                [("files", "a.png", bombs[30000])])
        status, _, out = request(url + "/api/slideshows", "POST", body, {"Content-Type": ctype})
        assert status == 413 and "a.png: 30000x30000" in json.loads(out)["detail"]
        assert not any((tmp_path / "archive" / "uploads").glob("slideshow-*"))  # nothing left behind


def test_api_pixel_limit_setting(tmp_path):
    ok, buf = cv2.imencode(".png", _img())
    with thread_server(create_app(tmp_path / "archive", max_image_pixels=1000)) as url:
        status, _, body = _post_image(url, "/api/analyze/image", "small.png", buf.tobytes())
        assert status == 413 and "53x37 pixels" in json.loads(body)["detail"]


def test_image_analyses_are_bounded_429(tmp_path):
    app = create_app(tmp_path / "archive", heavy_slots=1)
    busy = app.state.reelscope.busy
    with thread_server(app) as url:
        with busy.slot():  # one analysis running: the only slot is taken
            status, headers, body = _post_image(url, "/api/analyze/image", "notes.jpg", b"plain text")
            assert status == 429 and int(headers["retry-after"]) >= 1
            assert "busy" in json.loads(body)["detail"]
        # the slot is free again: the request is analysed (and refused for what it is)
        status, _, _ = _post_image(url, "/api/analyze/image", "notes.jpg", b"plain text")
        assert status == 415
    assert busy.refused == 1


def test_served_process_memory_under_bombs(tmp_path, bombs):
    """`reelscope serve` in its own process: the bombs are refused from their headers, so the
    server's peak memory stays far below one decoded bomb (2.7 GB for 30000x30000 RGB)."""
    with process_server(tmp_path / "archive") as (url, proc):
        before = peak_rss_mb(proc.pid)
        for n, data in bombs.items():
            for path in ("/api/analyze/image", "/api/analyze/images"):
                status, _, body = _post_image(url, path, f"bomb{n}.png", data,
                                              field="files" if path.endswith("images") else "file")
                assert status in (200, 413), body
        peak = peak_rss_mb(proc.pid)
    assert peak - before < 200, (before, peak)
