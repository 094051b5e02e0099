"""The video page's on-screen text panel in a real browser (Debian chromium via Playwright): spans
listed with their times and marked under the shot timeline; clicking one seeks the player to
where the text appears. Slow: it draws titles over a real clip and runs the text stage first."""
from __future__ import annotations

import re
import threading
import time
from types import SimpleNamespace

import pytest
from test_text import make_titled_clip
from test_web import CHROMIUM, CHROMIUM_ARGS, _free_port, require_browser, seek_and_wait, wait_metadata

import reelscope
from reelscope.api import create_app


@pytest.fixture(scope="module")
def text_server(tmp_path_factory):
    import uvicorn

    require_browser()
    root = tmp_path_factory.mktemp("text-web-media")
    clip = make_titled_clip(root / "titled.mp4")
    archive = tmp_path_factory.mktemp("text-web-archive")
    (o,) = reelscope.analyze([clip], archive=archive, stages=["shots", "keyframes", "text"])
    assert o.status == "analyzed", o.error
    app = create_app(archive, token="text-token", allowed_roots=[root])
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, name="text-web-uvicorn", daemon=True)
    thread.start()
    t0 = time.monotonic()
    while not srv.started:
        assert thread.is_alive() and time.monotonic() - t0 < 30, "uvicorn did not start"
        time.sleep(0.05)
    yield SimpleNamespace(url=f"http://127.0.0.1:{port}", video_id=o.video_id, spans=o.artifacts["text"].spans)
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
def test_text_spans_listed_marked_and_seek(text_server, page):
    from playwright.sync_api import expect

    spans = text_server.spans
    page.goto(f"{text_server.url}/videos/{text_server.video_id}")
    items = page.locator(".text-list .text-span")
    expect(items).to_have_count(len(spans))
    expect(page.locator(".text-track .text-mark")).to_have_count(len(spans))
    expect(page.locator(".text-list")).to_contain_text("The end of the line")
    wait_metadata(page)
    k = next(i for i, s in enumerate(spans) if s.text == "The end of the line")
    t = seek_and_wait(page, lambda: items.nth(k).locator("button.text-time").click())
    assert t == pytest.approx(spans[k].start_time, abs=0.05)
    expect(items.nth(k)).to_have_class(re.compile(r"\bcurrent\b"))
    first = next(i for i, s in enumerate(spans) if s.text == "Meet me at the harbour tomorrow")
    expect(items.nth(first)).not_to_have_class(re.compile(r"\bcurrent\b"))
    t = seek_and_wait(page, lambda: page.locator(".text-track .text-mark").nth(first).click())
    assert t == pytest.approx(spans[first].start_time, abs=0.05)
    expect(items.nth(first)).to_have_class(re.compile(r"\bcurrent\b"))
