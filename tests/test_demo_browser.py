"""``python -m vmc demo`` used as a person would, in headless Chromium (issue 13).

Start the demo on a free local port, open it, upload an example photo, type a prompt, click
Generate, wait for the video, check that the file the video element plays decodes to frames of
the requested size; generate again (the same person: the fit is skipped); try bad inputs and
read their messages (a file too large, no text, a file that is not an image, a photo without a
person, a value out of range); make a motion with no photo; then Ctrl-C, which must stop the
server cleanly and remove its temporary folder. Small settings (1 s at 256 px) keep it near a
minute on 2 cores.

Marked ``browser``: not in the default test command; ``.ci/run`` installs Debian's
``chromium`` and ``chromium-driver`` and the ``demo`` extra, then runs ``pytest -m browser``.
Set ``VMC_DEMO_SCREENSHOT=path.png`` to keep the screenshot somewhere else than the test's
temporary folder.
"""

from __future__ import annotations

import importlib.util
import os
import re
import urllib.request
from pathlib import Path

import pytest
from demo_page import REPO_ROOT, DemoPage, DemoServer, browser_available, chromium
from PIL import Image

from vmc.io.video import read_video

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]

EXAMPLE = REPO_ROOT / "examples" / "person.jpg"
SIZE = 256


def _require_browser() -> None:
    missing = [m for m in ("gradio", "selenium") if importlib.util.find_spec(m) is None]
    if not browser_available():
        missing.append("chromium + chromium-driver (apt-get install chromium chromium-driver)")
    if missing:
        reason = "the browser test needs " + ", ".join(missing) + ' (pip install -e ".[demo,dev]")'
        if os.environ.get("CI"):
            pytest.fail(reason)  # CI installs them: a missing one is a broken setup, not a skip
        pytest.skip(reason)


def _download(url: str, path: Path) -> Path:
    with urllib.request.urlopen(url, timeout=60) as response:
        path.write_bytes(response.read())
    return path


def test_a_person_makes_a_video_in_the_page(tmp_path):
    _require_browser()
    server = DemoServer()
    try:
        address = server.wait_until_up()
        assert f"http://127.0.0.1:{server.port}" in address and "Ctrl-C" in address
        with chromium() as driver:
            page = DemoPage(driver, server.url)
            _first_video(page, tmp_path)
            _same_person_again(page)
            _bad_inputs(page, tmp_path)
            _motion_only(page)
    finally:
        code, output = server.interrupt()
    # Ctrl-C: a clean stop, and the folder of uploads and results is gone.
    assert code == 0, output[-3000:]
    removed = re.search(r"stopped; removed (\S+)", output)
    assert removed, output[-3000:]
    assert not Path(removed.group(1)).exists()
    assert "Traceback" not in output


def _first_video(page: DemoPage, tmp_path: Path) -> None:
    page.upload(EXAMPLE)
    page.type_prompt("a person raises both arms")
    page.set_number("seconds", 1)
    page.choose("size", str(SIZE))
    page.choose("framing", "crop")  # a square of the requested size
    page.generate()
    src = page.wait_for_video("", timeout=600)
    frames, fps = read_video(_download(src, tmp_path / "video.mp4"))
    assert frames.shape == (30, SIZE, SIZE, 3) and fps == 30  # 1 s at 30 fps, the size asked
    assert frames.std() > 5  # a picture, not a blank
    assert page.video_src("preview-video")
    assert page.css("#fitted img")
    stages = page.text_of("stages")
    assert "person fit" in stages and "prepared from 1 photo(s)" in stages
    assert {Path(n).suffix for n in page.files_shown("downloads")} == {".mp4", ".npz", ".bvh"}
    shot = Path(os.environ.get("VMC_DEMO_SCREENSHOT") or tmp_path / "demo.png")
    page.driver.save_screenshot(str(shot))
    assert Image.open(shot).size[0] > 0


def _same_person_again(page: DemoPage) -> None:
    old = page.video_src()
    page.type_prompt("a person squats")
    page.generate()
    page.wait_for_video(old, timeout=600)
    assert "reused" in page.text_of("stages")
    line = page.text_of("seconds-per-stage")
    assert "fit was skipped" in line and "fit " not in line.split("(total")[0]


def _bad_inputs(page: DemoPage, tmp_path: Path) -> None:
    # A file over the stated limit: refused at the upload.
    huge = tmp_path / "huge.jpg"
    with huge.open("wb") as file:
        file.truncate(21 * 2**20)
    page.css("#photos input[type=file]")[0].send_keys(str(huge))
    assert 'exceed the maximum allowed size of 20.0 Mb: "huge.jpg"' in page.error_message()
    # No text.
    page.type_prompt("   ")
    page.generate()
    assert "Type what the person should do" in page.error_message()
    page.type_prompt("a person squats")
    # A file that is not an image.
    notes = tmp_path / "notes.jpg"
    notes.write_text("shopping list: milk, eggs")
    page.clear_photos()
    page.upload(notes)
    page.generate()
    assert "cannot read image 'notes.jpg'" in page.error_message()
    # A photo without a person.
    empty = tmp_path / "empty_room.png"
    Image.new("RGB", (320, 240), (180, 170, 150)).save(empty)
    page.clear_photos()
    page.upload(empty)
    page.generate()
    assert "empty_room.png: no person found" in page.error_message()
    # A value out of range.
    page.clear_photos()
    page.upload(EXAMPLE)
    page.set_number("seconds", 500)
    page.generate()
    message = page.error_message()
    assert "Seconds must be more than 0 and at most 20" in message
    assert "Traceback" not in message
    page.set_number("seconds", 1)


def _motion_only(page: DemoPage) -> None:
    """The motion tab works with no photo (and the server still serves after the errors)."""
    for tab in page.css("button[role='tab']"):
        if tab.text.strip() == "Motion only":
            tab.click()
    page.wait_for(lambda: page.css("#motion-prompt textarea"), 30)
    page.css("#motion-prompt textarea")[0].send_keys("somebody hops up and down")
    page.set_number("motion-seconds", 1)
    page.css("#motion-generate")[0].click()
    page.wait_for_video("", timeout=600, elem_id="motion-video")
    shown = {Path(n).suffix for n in page.files_shown("motion-downloads")}
    assert shown == {".npz", ".bvh"}
