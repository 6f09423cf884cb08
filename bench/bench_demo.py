"""Seconds from a click on Generate to the video in the browser demo, for a shipped example at
the default settings (2 s, 512 px, full framing): the first request and the second (the same
photo again: the prepared person is reused, so the fit is skipped).

    python bench/bench_demo.py [--example "astronaut.jpg: a person raises both arms"]
                               [--screenshot docs/demo_page.png]

Needs the demo extra and Debian's chromium + chromium-driver (as ``pytest -m browser``). The
demo starts in a child process; the first click comes as soon as the page has loaded, while
the models may still be loading (as for a person who opens the page at once).
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from demo_page import DemoPage, DemoServer, chromium  # noqa: E402 (the tests' page driver)


def _click_to_video(page: DemoPage) -> tuple[float, str]:
    old = page.video_src()
    clicked = page.generate()
    page.wait_for_video(old, timeout=1200)
    return time.monotonic() - clicked, page.text_of("seconds-per-stage")


def _save_small(png: bytes, path: Path) -> None:
    """The screenshot as a 256-colour PNG, 1100 px wide (a page of flat colours: small for the
    README)."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    if image.width > 1100:
        size = (1100, round(image.height * 1100 / image.width))
        image = image.resize(size, Image.Resampling.LANCZOS)
    image.quantize(256, dither=Image.Dither.NONE).save(path, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--example", default="astronaut.jpg: a person raises both arms")
    parser.add_argument("--screenshot", type=Path, default=None, help="save the page here")
    args = parser.parse_args()
    server = DemoServer()
    try:
        started = time.monotonic()
        server.wait_until_up()
        print(f"page up after {time.monotonic() - started:.1f} s")
        with chromium(1400, 1750) as driver:
            page = DemoPage(driver, server.url)
            page.pick_example(args.example)
            for request in ("first", "second"):
                seconds, stages = _click_to_video(page)
                print(f"{request} request: {seconds:.1f} s from the click to the video; {stages}")
            if args.screenshot is not None:
                driver.execute_script("window.scrollTo(0, 0)")
                time.sleep(1.0)  # let the video show a frame
                _save_small(driver.get_screenshot_as_png(), args.screenshot)
                print(f"wrote {args.screenshot} ({args.screenshot.stat().st_size / 1e3:.0f} KB)")
    finally:
        server.interrupt()


if __name__ == "__main__":
    main()
