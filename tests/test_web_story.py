"""The video page's story panels in a real browser (Debian chromium via Playwright): the importance and
emotion curves under the shot timeline, and making and playing a summary. Slow: it analyses a
synthetic clip with sound up to the importance stage first."""
from __future__ import annotations

import json
import shutil
import threading
import time
from types import SimpleNamespace

import pytest
from test_story import make_av_clip
from test_web import CHROMIUM, CHROMIUM_ARGS, _free_port, require_browser, wait_js

import reelscope
from reelscope.api import create_app

TOKEN = "story-token"


@pytest.fixture(scope="module")
def story_server(tmp_path_factory, short_video):
    import uvicorn

    require_browser()
    root = tmp_path_factory.mktemp("story-web-media")
    clip = make_av_clip(root / "scenes.mp4")
    archive = tmp_path_factory.mktemp("story-web-archive")
    (o,) = reelscope.analyze([clip], archive=archive, stages=["importance", "keyframes"])
    assert o.status == "analyzed", o.error
    (plain,) = reelscope.analyze([shutil.copy(short_video, root / "plain.mp4")], archive=archive, stages=["shots"])
    app = create_app(archive, token=TOKEN, allowed_roots=[root])
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, name="story-web-uvicorn", daemon=True)
    thread.start()
    t0 = time.monotonic()
    while not srv.started:
        assert thread.is_alive() and time.monotonic() - t0 < 30, "uvicorn did not start"
        time.sleep(0.05)
    yield SimpleNamespace(url=f"http://127.0.0.1:{port}", video_id=o.video_id, plain_id=plain.video_id)
    srv.should_exit = True
    thread.join(15)


@pytest.fixture
def page():
    sync_api = require_browser()
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        ctx = b.new_context(viewport={"width": 1280, "height": 900})
        ctx.set_default_timeout(30_000)
        pg = ctx.new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.on("console", lambda msg: errors.append(msg.text)  # the security policy refused something
              if msg.type == "error" and "Content Security Policy" in msg.text else None)
        yield pg
        ctx.close()
        b.close()
        assert not errors, f"JavaScript errors: {errors}"


@pytest.mark.slow
def test_curves_under_timeline_and_summary_plays(story_server, page):
    from playwright.sync_api import expect

    page.goto(f"{story_server.url}/videos/{story_server.video_id}")
    page.evaluate(f"localStorage.setItem('reelscope.token', {json.dumps(TOKEN)})")
    page.reload()
    for name in ("importance", "emotion.arousal", "emotion.valence"):
        expect(page.locator(f".curves-svg g[data-curve='{name}'] polyline").first).to_be_attached()
    expect(page.locator(".curves-legend")).to_contain_text("Importance")
    # the chart spans the timeline's width, and clicking it seeks the player
    tl, ch = page.locator(".timeline").bounding_box(), page.locator(".curves-chart").bounding_box()
    assert abs(tl["width"] - ch["width"]) < 2 and ch["y"] > tl["y"]
    wait_js(page, "document.querySelector('#player').readyState >= 1")
    page.evaluate("""() => { const v = document.querySelector('#player');
        window.__seeked = new Promise(r => v.addEventListener('seeked', () => r(v.currentTime), {once: true})); }""")
    page.locator(".curves-chart").click(position={"x": ch["width"] * 0.75, "y": ch["height"] / 2})
    assert page.evaluate("window.__seeked") == pytest.approx(4.5, abs=0.3)  # 75% of 6 s
    # hiding a curve
    page.get_by_label("Show Valence").uncheck()
    expect(page.locator(".curves-svg g[data-curve='emotion.valence']")).to_be_hidden()

    page.locator("#summary-seconds").fill("3")
    page.locator("#summary-make").click()
    expect(page.locator(".summary-card .status-line")).to_contain_text("Summary", timeout=60_000)
    player = page.locator("#summary-player")
    expect(player).to_be_visible()
    assert "/api/summaries/" in player.get_attribute("src")
    wait_js(page, "document.querySelector('#summary-player').readyState >= 1")
    dur = page.evaluate("document.querySelector('#summary-player').duration")
    assert 0.5 < dur <= 3.05
    segs = page.locator(".summary-segments li button")
    assert segs.count() >= 1
    expect(page.locator(".summary-list li")).to_have_count(1)


@pytest.mark.slow
def test_summary_panel_explains_missing_importance(story_server, page):
    from playwright.sync_api import expect

    page.goto(f"{story_server.url}/videos/{story_server.plain_id}")
    expect(page.locator(".summary-card")).to_contain_text("No importance stored")
    expect(page.locator(".curves-empty")).to_contain_text("importance stage")
