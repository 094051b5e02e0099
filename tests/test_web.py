"""The web app: static files served by the API process (fast), and the pages driven in a real
headless browser (Debian chromium through Playwright, ``slow``) against the real app served by
uvicorn over an archive holding a synthetic 5-shot edit and a real clip with faces.

The browser tests need the ``playwright`` Python package and /usr/bin/chromium (apt-get install
chromium); Playwright's own browser downloads are never used."""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import threading
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import data_file
from fastapi.testclient import TestClient

import reelscope
from reelscope.api import create_app
from reelscope.web import STATIC

CHROMIUM = Path(os.environ.get("REELSCOPE_CHROMIUM", "/usr/bin/chromium"))  # Debian's package
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
TOKEN = "web-test-token"
FACES = "faces/openmpf_face_videos/video_01.mp4"  # 3 s, five people facing the camera
PAGES = ("/", "/videos/1", "/videos/123/", "/characters", "/search", "/jobs")
IMPORT = re.compile(r"""(?:\bfrom\s*|\bimport\s*\(\s*)["'](\.{1,2}/[^"']+)["']""")


# ---- fast: the files are served, local only ------------------------------------------------------
@pytest.fixture
def web_client(tmp_path):
    with TestClient(base_url="http://localhost", app=create_app(tmp_path / "archive")) as c:
        yield c


def test_static_files_served_and_local_only(web_client):
    c = web_client
    index = (STATIC / "index.html").read_text()
    assert not re.search(r"https?://", index, re.I), "index.html must not reference any http(s) URL"
    for page in PAGES:
        r = c.get(page)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), page
        assert r.text == index
    assert c.head("/jobs").status_code == 200
    files = [p for p in STATIC.rglob("*") if p.is_file()]
    assert {"index.html", "app.css", "main.js", "api.js", "video.js"} <= {p.name for p in files}
    for p in files:
        rel = p.relative_to(STATIC).as_posix()
        r = c.get(f"/static/{rel}")
        assert r.status_code == 200 and r.content == p.read_bytes(), rel
        if p.suffix == ".js":  # ES modules load only with a JavaScript MIME type
            assert "javascript" in r.headers["content-type"], (rel, r.headers["content-type"])
            text = p.read_text()
            for target in IMPORT.findall(text):  # every relative import resolves to a served file
                assert (p.parent / target).resolve().is_file(), f"{rel} imports missing {target}"
            assert not re.search(r"""(?:from|import\s*\()\s*["']https?:""", text), f"{rel} imports a remote module"
        if p.suffix == ".css":
            assert "text/css" in r.headers["content-type"]
            assert not re.search(r"url\(\s*['\"]?https?:|@import", p.read_text()), f"{rel} loads remote CSS"
    # the API and its docs stay where they were; unknown paths are 404, not the app
    assert c.get("/api/health").json()["status"] == "ok"
    assert c.get("/docs").status_code == 200
    r = c.get("/api/nothing-here")
    assert r.status_code == 404 and r.json()["detail"]
    assert c.get("/no-such-page").status_code == 404
    assert c.get("/static/../reelscope.db").status_code == 404
    assert not [p for p in c.get("/openapi.json").json()["paths"] if not p.startswith("/api/")]


# ---- slow: a real browser against the real server ----------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require_browser():
    """The playwright module, or skip: the browser tests need the package and Debian's chromium."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed "
                                                                  "(pip install playwright; never 'playwright install')")
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium)")
    return sync_api


@pytest.fixture(scope="module")
def server(tmp_path_factory, edit_video, short_video):
    """uvicorn in a thread serving create_app over an archive with the edit and a clip with faces."""
    import uvicorn

    require_browser()  # before the analysis: nothing to do here without a browser

    root = tmp_path_factory.mktemp("web-media")
    shutil.copy(edit_video, root / "edit.mp4")
    shutil.copy(data_file(FACES), root / "faces.mp4")
    shutil.copy(short_video, root / "short.mp4")
    archive = tmp_path_factory.mktemp("web-archive")
    outcomes = reelscope.analyze([root / "edit.mp4", root / "faces.mp4"], archive=archive,
                                 stages=["shots", "keyframes", "faces"])
    assert [o.status for o in outcomes] == ["analyzed", "analyzed"], outcomes
    app = create_app(archive, token=TOKEN, allowed_roots=[root])
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, name="web-test-uvicorn", daemon=True)
    thread.start()
    t0 = time.monotonic()
    while not srv.started:
        assert thread.is_alive() and time.monotonic() - t0 < 30, "uvicorn did not start"
        time.sleep(0.05)
    ns = SimpleNamespace(url=f"http://127.0.0.1:{port}", root=root, app=app, archive=archive,
                         edit_id=outcomes[0].video_id, faces_id=outcomes[1].video_id)
    yield ns
    srv.should_exit = True
    thread.join(15)


def call(server, path: str, body: dict | None = None, method: str | None = None):
    """The API over HTTP, with the token."""
    req = urllib.request.Request(server.url + path, method=method or ("POST" if body is not None else "GET"),
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"null")


@pytest.fixture(scope="module")
def browser():
    sync_api = require_browser()
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A fresh browser context (empty localStorage) per test; fails the test on a JavaScript error."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(20_000)
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda msg: errors.append(msg.text)  # the security policy refused something
          if msg.type == "error" and "Content Security Policy" in msg.text else None)
    yield pg
    ctx.close()
    assert not errors, f"JavaScript errors: {errors}"


def expect():
    from playwright.sync_api import expect as _expect

    return _expect


def seek_and_wait(page, action) -> float:
    """Run ``action`` (which should seek the player) and answer currentTime after 'seeked'."""
    page.evaluate("""() => { const v = document.querySelector('#player');
        window.__seeked = new Promise(r => v.addEventListener('seeked', () => r(v.currentTime), {once: true})); }""")
    action()
    return page.evaluate("window.__seeked")


def wait_js(page, expression: str, timeout: float = 20.0) -> None:
    """Wait until a JavaScript expression is true in the page. (Playwright's wait_for_function
    polls through eval, which the app's Content-Security-Policy rightly forbids; evaluate does not.)"""
    t0 = time.monotonic()
    while not page.evaluate(f"() => Boolean({expression})"):
        assert time.monotonic() - t0 < timeout, f"timed out waiting for {expression}"
        time.sleep(0.05)


def wait_metadata(page) -> None:
    wait_js(page, "document.querySelector('#player') && document.querySelector('#player').readyState >= 1")


@pytest.mark.slow
def test_video_page_click_shot_seeks_player(server, page):
    shots = call(server, f"/api/videos/{server.edit_id}")["shots"]
    assert len(shots) == 5
    page.goto(f"{server.url}/videos/{server.edit_id}")
    segs = page.locator(".timeline .seg")
    expect()(segs).to_have_count(5)
    expect()(page.locator(".kf-strip .kf")).to_have_count(5)
    expect()(page.locator("ul.legend")).to_contain_text("ECU")
    wait_metadata(page)
    # segments are proportional to duration
    widths = [segs.nth(i).bounding_box()["width"] for i in range(5)]
    durs = [s["end_time"] - s["start_time"] for s in shots]
    assert widths[2] / widths[0] == pytest.approx(durs[2] / durs[0], rel=0.1)

    third = shots[2]
    t = seek_and_wait(page, lambda: segs.nth(2).click())
    assert third["start_time"] <= t < third["end_time"], (t, third)
    expect()(segs.nth(2)).to_have_class(re.compile(r"\bcurrent\b"))
    expect()(page.locator(".kf-strip .kf").nth(2)).to_have_class(re.compile(r"\bcurrent\b"))
    expect()(page.locator(".now h2")).to_have_text("Shot 3 of 5")
    assert f"t={t:.2f}" in page.url  # the seek is kept in the URL

    fourth = shots[3]  # a keyframe seeks to its frame, inside its shot
    t = seek_and_wait(page, lambda: page.locator(".kf-strip .kf").nth(3).click())
    assert fourth["start_time"] <= t < fourth["end_time"]
    expect()(segs.nth(3)).to_have_class(re.compile(r"\bcurrent\b"))
    expect()(segs.nth(2)).not_to_have_class(re.compile(r"\bcurrent\b"))

    # the highlight follows the player's own time, however it got there
    last = shots[4]
    seek_and_wait(page, lambda: page.evaluate(f"document.querySelector('#player').currentTime = {last['start_time'] + 0.5}"))
    expect()(segs.nth(4)).to_have_class(re.compile(r"\bcurrent\b"))


@pytest.mark.slow
def test_video_page_captions_track_and_transcript(server, page):
    """A stored transcript becomes the player's captions track (WebVTT from the API) and a
    transcript list whose lines seek the player."""
    from reelscope.archive import Archive
    from reelscope.audio.transcribe import Transcript, TranscriptSegment, Word

    segs = [TranscriptSegment(0.5, 1.5, "Hello there.", "en", 0.9, words=[Word(0.5, 0.9, "Hello", 0.9),
                                                                           Word(0.9, 1.5, "there.", 0.9)]),
            TranscriptSegment(5.2, 6.4, "See you tomorrow.", "en", 0.9,
                              words=[Word(5.2, 5.5, "See", 0.9), Word(5.5, 5.8, "you", 0.9),
                                     Word(5.8, 6.4, "tomorrow.", 0.9)])]
    tr = Transcript(available=True, model="whisper-base", language="en", language_probability=0.9,
                    languages={"en": 2.2}, segments=segs, regions=[(0.0, 7.0)], region_source="audio")
    with Archive(server.archive) as arch:
        arch.save_stage(server.edit_id, "speech", {"speech": tr}, {"params": {"summary": tr.summary(), "regions": []}})
    try:
        page.goto(f"{server.url}/videos/{server.edit_id}")
        lines = page.locator("ol.transcript .t-line")
        expect()(lines).to_have_count(2)
        expect()(lines.nth(1)).to_contain_text("See you tomorrow.")
        track = page.locator("#player track")
        expect()(track).to_have_attribute("kind", "captions")
        expect()(track).to_have_attribute("srclang", "en")
        wait_metadata(page)
        page.wait_for_function("""() => { const t = document.querySelector('#player').textTracks[0];
            return t && t.mode === 'showing' && t.cues && t.cues.length === 2; }""")
        cue = page.evaluate("document.querySelector('#player').textTracks[0].cues[1].text")
        assert cue == "See you tomorrow."
        t = seek_and_wait(page, lambda: lines.nth(1).click())
        assert 5.2 <= t < 6.4
        expect()(lines.nth(1)).to_have_class(re.compile(r"\bcurrent\b"))
    finally:
        with Archive(server.archive) as arch:
            off = Transcript(available=False, reason="disabled")
            arch.save_stage(server.edit_id, "speech", {"speech": off}, {"params": {"summary": off.summary()}})


@pytest.mark.slow
def test_video_page_t_parameter_and_first_appearance(server, page):
    shots = call(server, f"/api/videos/{server.edit_id}")["shots"]
    target = shots[3]["start_time"] + 0.3
    page.goto(f"{server.url}/videos/{server.edit_id}?t={target:.2f}")
    wait_metadata(page)
    wait_js(page, f"Math.abs(document.querySelector('#player').currentTime - {target:.2f}) < 0.05")
    expect()(page.locator(".timeline .seg").nth(3)).to_have_class(re.compile(r"\bcurrent\b"))

    chars = call(server, f"/api/videos/{server.faces_id}/characters")
    assert chars, "the clip with faces has characters"
    page.goto(f"{server.url}/videos/{server.faces_id}")
    cards = page.locator(".char-grid .char-card")
    expect()(cards).to_have_count(len(chars))
    expect()(cards.first.locator("img.face")).to_be_visible()
    expect()(cards.first).to_contain_text("Screen time")
    wait_metadata(page)
    late = max(chars, key=lambda c: c["first_time"])
    idx = [c["id"] for c in chars].index(late["id"])
    if late["first_time"] > 0:
        t = seek_and_wait(page, lambda: cards.nth(idx).get_by_role("button", name=re.compile("first appearance")).click())
        assert t == pytest.approx(late["first_time"], abs=0.05)


@pytest.mark.slow
def test_name_character_then_name_on_video_page(server, page):
    chars = call(server, f"/api/videos/{server.faces_id}/characters")
    cid = chars[0]["id"]
    page.goto(f"{server.url}/characters?video={server.faces_id}")
    card = page.locator(f'.char-card[data-id="{cid}"]')
    card.get_by_label(re.compile("^Name for")).fill("Ada Lovelace")
    card.get_by_role("button", name="Name", exact=True).click()
    # no token yet: the API's detail is shown
    expect()(card.locator(".card-status [role=alert]")).to_contain_text("API token")

    page.locator("#settings summary").click()
    page.get_by_label("Token").fill(TOKEN)
    page.get_by_role("button", name="Save").click()
    expect()(page.locator("#token-state")).to_have_text("set")
    card.get_by_label(re.compile("^Name for")).fill("Ada Lovelace")
    card.get_by_role("button", name="Name", exact=True).click()
    expect()(card.locator(".char-name .name")).to_have_text("Ada Lovelace")
    expect()(page.locator("table.data")).to_contain_text("Ada Lovelace")  # the identities
    assert call(server, f"/api/characters/{cid}")["name"] == "Ada Lovelace"

    page.get_by_role("link", name="Characters").first.click()  # the token stays across pages
    page.goto(f"{server.url}/videos/{server.faces_id}")
    expect()(page.locator(".char-grid")).to_contain_text("Ada Lovelace")
    assert page.evaluate("localStorage.getItem('reelscope.token')") == TOKEN


@pytest.mark.slow
def test_merge_split_undo_on_character_page(server, page):
    chars = call(server, f"/api/videos/{server.faces_id}/characters")
    a, b = chars[-2]["id"], chars[-1]["id"]
    page.goto(f"{server.url}/characters?video={server.faces_id}")
    page.evaluate(f"localStorage.setItem('reelscope.token', {json.dumps(TOKEN)})")
    page.reload()
    expect()(page.locator(".char-card")).to_have_count(len(chars))
    page.locator(f'.char-card[data-id="{a}"] .select input').check()
    page.locator(f'.char-card[data-id="{b}"] .select input').check()
    page.get_by_role("button", name=re.compile("^Merge selected")).click()
    expect()(page.locator(".status-line")).to_contain_text(f"into character {a}")
    expect()(page.locator(".char-card")).to_have_count(len(chars) - 1)
    merged = call(server, f"/api/characters/{a}")
    assert len(merged["tracks"]) >= 2

    card = page.locator(f'.char-card[data-id="{a}"]')
    card.locator("details.split summary").click()
    card.locator("details.split input[type=checkbox]").last.check()
    card.get_by_role("button", name="Move to a new character").click()
    expect()(page.locator(".char-card")).to_have_count(len(chars))

    page.get_by_role("button", name="Undo last change").click()  # undo the split
    expect()(page.locator(".status-line")).to_contain_text("Undid")
    expect()(page.locator(".char-card")).to_have_count(len(chars) - 1)
    page.get_by_role("button", name="Undo last change").click()  # and the merge
    expect()(page.locator(".char-card")).to_have_count(len(chars))


@pytest.mark.slow
def test_archive_list_shows_videos(server, page):
    page.goto(server.url + "/")
    rows = page.locator("table.videos-table tbody tr")
    expect()(rows).to_have_count(len(call(server, "/api/videos")["items"]))
    edit = rows.filter(has_text="edit.mp4")
    expect()(edit).to_contain_text("0:10.8")  # duration
    expect()(edit.locator("td.num").nth(1)).to_have_text("5")  # shots
    expect()(rows.filter(has_text="faces.mp4")).to_be_visible()
    page.get_by_role("link", name="edit.mp4").click()
    expect()(page.locator("h1")).to_have_text("edit.mp4")
    assert page.url.endswith(f"/videos/{server.edit_id}")
    page.go_back()
    page.get_by_label("Filter by file name").fill("nothing-like-it")
    page.get_by_role("button", name="Filter").click()
    expect()(page.locator(".empty")).to_contain_text("No video matches")


@pytest.mark.slow
def test_search_finds_named_character(server, page):
    chars = call(server, f"/api/videos/{server.faces_id}/characters")
    target = chars[-1]
    call(server, f"/api/characters/{target['id']}/name", {"name": "Grace Hopper"})
    page.goto(server.url + "/search")
    expect()(page.locator(".empty")).to_contain_text("Search the archive")
    page.get_by_label("Character").fill("Grace")
    page.get_by_role("button", name="Search", exact=True).click()
    # (recognition may also put the name on look-alikes: the hit for the named character itself)
    hit = page.locator(f'li.hit[data-kind="character"][data-character="{target["id"]}"]')
    expect()(hit).to_contain_text("Grace Hopper in faces.mp4")
    assert "character=Grace" in page.url
    href = hit.locator("a").get_attribute("href")
    m = re.fullmatch(rf"/videos/{server.faces_id}\?t=([\d.]+)", href)
    assert m, href
    hit.locator("a").click()
    wait_metadata(page)
    wait_js(page, f"Math.abs(document.querySelector('#player').currentTime - {float(m.group(1))}) < 0.05")

    page.goto(server.url + "/search?q=zzz-nothing")  # free text: the first one loads the text model
    expect()(page.locator(".empty")).to_contain_text("Nothing found", timeout=120_000)
    page.goto(server.url + "/search?start=-1")
    expect()(page.locator(".results [role=alert]")).to_contain_text("start")  # the API's validation detail


@pytest.mark.slow
def test_jobs_page_progress_and_cancel(server, page):
    jobs = server.app.state.reelscope.jobs
    jobs.shutdown()  # no worker for a moment: the next job stays queued
    try:
        queued = call(server, "/api/jobs", {"path": str(server.root / "short.mp4"), "stages": ["shots"]})
        page.goto(server.url + "/jobs")
        row = page.locator(f'tr[data-job="{queued["id"]}"]')
        expect()(row).to_contain_text("short.mp4")
        expect()(row).to_contain_text("Analysis")
        expect()(row.locator(".status")).to_have_text("queued")
        page.evaluate(f"localStorage.setItem('reelscope.token', {json.dumps(TOKEN)})")
        row.get_by_role("button", name=re.compile("^Cancel")).click()
        expect()(row.locator(".status")).to_have_text("cancelled")
        expect()(row.get_by_role("button", name=re.compile("^Cancel"))).to_be_hidden()
    finally:
        jobs.start()

    job = call(server, "/api/jobs", {"path": str(server.root / "short.mp4"), "stages": ["shots", "keyframes"]})
    row = page.locator(f'tr[data-job="{job["id"]}"]')  # appears by polling, without a reload
    expect()(row).to_be_visible()
    expect()(row.locator(".status")).to_have_text("done", timeout=60_000)
    expect()(row.locator(".progress-text")).to_have_text("100%")
    row.get_by_role("link", name=re.compile("Open video")).click()
    expect()(page.locator("h1")).to_have_text("short.mp4")


@pytest.mark.slow
def test_jobs_page_failure_in_one_sentence(server, page, bad_files):
    """A failed job: no full bar, one sentence, the traceback only behind "Details"."""
    broken = server.root / "broken.mp4"
    shutil.copy(bad_files["truncated"], broken)  # a header, then half the frames
    job = call(server, "/api/jobs", {"path": str(broken), "stages": ["shots"]})
    page.goto(server.url + "/jobs")
    page.evaluate(f"localStorage.setItem('reelscope.token', {json.dumps(TOKEN)})")
    page.reload()
    row = page.locator(f'tr[data-job="{job["id"]}"]')
    expect()(row.locator(".status")).to_have_text("failed", timeout=60_000)
    err = row.locator(".job-error")
    expect()(err).to_contain_text("broken.mp4")
    text = err.inner_text()
    assert "Traceback" not in text and "\n" not in text.strip() and str(server.root) not in text
    expect()(row.locator("progress")).to_be_hidden()
    detail = row.locator("details.job-detail")
    if call(server, f"/api/jobs/{job['id']}")["detail"]:  # a traceback exists: behind the toggle
        expect()(detail.locator("pre")).to_be_hidden()
        detail.locator("summary").click()
        expect()(detail.locator("pre")).to_be_visible()
