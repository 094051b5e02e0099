"""Browser attacks on a server, over real HTTP: DNS rebinding (Host allow-list), cross-site
writes (Origin/Referer/Sec-Fetch-Site, refused with or without a token), security headers, and
server paths hidden from anonymous readers."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from live_server import multipart, process_server, request, thread_server

import reelscope
from reelscope.api import create_app
from reelscope.api.security import HostRule, PathHider

TOKEN = "browser-safety-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def archive(tmp_path_factory, short_video):
    """An archive holding one analysed video that lives in a server folder (an allowed root)."""
    root = tmp_path_factory.mktemp("served-videos")
    video = root / "secret-folder-name" / "clip.mp4"
    video.parent.mkdir()
    shutil.copy(short_video, video)
    location = tmp_path_factory.mktemp("safety-archive")
    (o,) = reelscope.analyze(video, archive=location, stages=["shots"])
    return location, root, o.video_id


def _json(body: bytes):
    return json.loads(body) if body else None


def test_host_allow_list_stops_dns_rebinding(archive):
    location, root, vid = archive
    with thread_server(create_app(location, allowed_roots=[root])) as url:  # no token: writes open
        port = url.rsplit(":", 1)[1]
        for host in ("evil.example", f"evil.example:{port}", "127.0.0.1.evil.example", "localhost.evil", ""):
            status, headers, body = request(f"{url}/api/videos", headers={"Host": host})
            assert status == 400, host
            assert "is not served here" in _json(body)["detail"] and headers["x-frame-options"] == "DENY"
        status, _, body = request(f"{url}/api/videos/{vid}", "DELETE", headers={"Host": f"evil.example:{port}"})
        assert status == 400
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"app.localhost:{port}", "LOCALHOST"):
            assert request(f"{url}/api/videos", headers={"Host": host})[0] == 200, host
        assert request(f"{url}/api/videos/{vid}")[0] == 200  # the DELETE above never ran
    with thread_server(create_app(location, allowed_hosts=["media.example.org", ".lan"])) as url:
        for host, want in (("media.example.org", 200), ("box.lan", 200), ("lan", 200), ("other.example.org", 400)):
            assert request(f"{url}/api/health", headers={"Host": host})[0] == want, host


def test_host_rule_for_a_wildcard_bind():
    rule = HostRule(["0.0.0.0", "localhost"])  # bound to every interface: any address, this machine's names
    assert rule.allows("192.168.1.20") and rule.allows("fe80::1") and rule.allows("localhost")
    assert not rule.allows("evil.example")
    assert HostRule(["*"]).allows("anything.example")
    assert not HostRule(["192.168.1.20"]).allows("192.168.1.21")


def test_cross_site_writes_refused_even_without_a_token(archive, tmp_path):
    location, root, vid = archive
    with thread_server(create_app(location, allowed_roots=[root])) as url:
        port = url.rsplit(":", 1)[1]
        body, ctype = multipart({"stages": "shots"}, [("file", "v.mp4", b"\x00" * 1000)])
        evil = [{"Origin": "https://evil.example"}, {"Origin": "null"}, {"Origin": f"http://localhost:{int(port) + 1}"},
                {"Referer": "https://evil.example/page.html"}, {"Sec-Fetch-Site": "cross-site"},
                {"Sec-Fetch-Site": "same-site", "Origin": f"http://127.0.0.1:{port}"}]
        for h in evil:
            status, _, out = request(f"{url}/api/jobs", "POST", body, {"Content-Type": ctype, **h})
            assert status == 403 and _json(out)["detail"].startswith("cross-site request refused"), h
            assert request(f"{url}/api/videos/{vid}", "DELETE", headers=h)[0] == 403, h
        assert not list((location / "uploads").glob("upload-*"))  # refused before the body was read
        assert request(f"{url}/api/videos/{vid}")[0] == 200
        # the same site (the web app), and clients that are no browser, get through
        for h in ({"Origin": url}, {"Origin": f"http://localhost:{port}", "Host": f"localhost:{port}"},
                  {"Referer": f"{url}/jobs", "Sec-Fetch-Site": "same-origin"}, {}):
            status, _, out = request(f"{url}/api/jobs", "POST", body, {"Content-Type": ctype, **h})
            assert status == 415 and "v.mp4" in _json(out)["detail"], (h, out)  # past the guard: not a video
        # reads are not state-changing: a cross-site GET is answered (the browser keeps it from the page)
        assert request(f"{url}/api/health", headers={"Origin": "https://evil.example"})[0] == 200
    with thread_server(create_app(location, token=TOKEN, allowed_roots=[root])) as url:
        status, _, _ = request(f"{url}/api/videos/{vid}", "DELETE", headers={**AUTH, "Origin": "https://evil.example"})
        assert status == 403  # a token (e.g. the web app's cookie) does not make a cross-site write safe
        assert request(f"{url}/api/videos/{vid}")[0] == 200


def test_security_headers(archive):
    location, root, _ = archive
    with thread_server(create_app(location)) as url:
        for path in ("/", "/jobs", "/static/js/main.js", "/api/health", "/api/videos/999999", "/no-such-page"):
            status, h, _ = request(url + path)
            assert h["x-frame-options"] == "DENY" and h["x-content-type-options"] == "nosniff", path
            assert h["referrer-policy"] == "same-origin" and h["cross-origin-resource-policy"] == "same-origin"
            csp = h["content-security-policy"]
            assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp and "unsafe" not in csp, path
        _, h, body = request(url + "/docs")
        assert b"swagger" in body.lower() and "script-src 'self' 'unsafe-inline'" in h["content-security-policy"]


def test_server_paths_hidden_from_anonymous_readers(archive):
    location, root, vid = archive
    secret = str(root)
    with thread_server(create_app(location, token=TOKEN, allowed_roots=[root])) as url:
        for path in ("/api/videos", f"/api/videos/{vid}"):
            status, _, body = request(url + path)
            assert status == 200 and secret not in body.decode() and str(location) not in body.decode(), path
            status, _, body = request(url + path, headers=AUTH)
            assert status == 200 and secret in body.decode(), path  # the token holder may see them
        listing = _json(request(url + "/api/videos")[2])
        assert listing["items"][0]["path"] is None and listing["items"][0]["filename"] == "clip.mp4"
        assert _json(request(f"{url}/api/videos/{vid}")[2])["path"] is None
        assert request(url + "/api/slideshows/music-folders")[0] == 401  # a listing of server folders
        # error messages: the token holder sees the path, an anonymous request only the name
        job = json.dumps({"path": str(root / "secret-folder-name" / "missing.mp4")}).encode()
        status, _, body = request(url + "/api/jobs", "POST", job, {"Content-Type": "application/json", **AUTH})
        assert status == 404 and secret in _json(body)["detail"]
    with thread_server(create_app(location, allowed_roots=[root])) as url:  # no token: nobody is privileged
        assert _json(request(url + "/api/videos")[2])["items"][0]["path"] is None
        status, _, body = request(url + "/api/jobs", "POST", job, {"Content-Type": "application/json"})
        assert status == 404 and _json(body)["detail"] == "missing.mp4: no such file"
        outside = json.dumps({"path": str(location / "reelscope.db")}).encode()
        status, _, body = request(url + "/api/jobs", "POST", outside, {"Content-Type": "application/json"})
        assert status == 403 and _json(body)["detail"] == "reelscope.db: not under an allowed root of this server"
        not_video = root / "secret-folder-name" / "notes.mp4"
        not_video.write_text("not a video")
        status, _, body = request(url + "/api/jobs", "POST", json.dumps({"path": str(not_video)}).encode(),
                                  {"Content-Type": "application/json"})
        assert status == 415 and secret not in _json(body)["detail"] and "notes.mp4" in _json(body)["detail"]


def test_path_hider():
    hide = PathHider(["/srv/media", "/home/ann"])
    assert hide("/srv/media/a/b/film one.mp4: not a video") == "film one.mp4: not a video"
    assert hide("/srv/media/a/film.mp4: cannot open") == "film.mp4: cannot open"
    assert hide({"e": ["/home/ann/x.jpg", "/api/media/ab/kf.jpg", "/srv/mediaX/y"]}) == \
        {"e": ["x.jpg", "/api/media/ab/kf.jpg", "/srv/mediaX/y"]}
    assert hide("see /srv/media") == "see media" and hide("x/srv/media/a") == "x/srv/media/a"


def test_serve_options_over_http(tmp_path):
    """`reelscope serve --allowed-host NAME`: the name is served, others are not; the bound
    address (127.0.0.1) and localhost are served by default."""
    with process_server(tmp_path / "archive", "--allowed-host", "films.example.net",
                        env={"REELSCOPE_ALLOWED_HOSTS": "also.example.net"}) as (url, _proc):
        port = url.rsplit(":", 1)[1]
        for host, want in ((f"127.0.0.1:{port}", 200), (f"localhost:{port}", 200), ("films.example.net", 200),
                           ("also.example.net", 200), ("evil.example", 400)):
            assert request(url + "/api/health", headers={"Host": host})[0] == want, host
