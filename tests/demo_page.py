"""The browser demo driven as a person would: start ``python -m vmc demo``, open it in headless
Chromium (Debian's ``chromium`` and ``chromium-driver``, through selenium; no browser is
downloaded), upload, type, click, wait, read what the page shows.

Used by ``tests/test_demo_browser.py`` and ``bench/bench_demo.py``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
#: Debian's browser and its driver (``apt-get install chromium chromium-driver``).
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def browser_available() -> bool:
    return Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DemoServer:
    """``python -m vmc demo`` in a child process, on a free local port."""

    def __init__(self, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO_ROOT),
            "GRADIO_ANALYTICS_ENABLED": "False",
            "PYTHONUNBUFFERED": "1",
        }
        self.log = Path(os.environ.get("TMPDIR", "/tmp")) / f"vmc-demo-{self.port}.log"
        self._log_file = self.log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "vmc", "demo", "--port", str(self.port), *args],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self._log_file,
            text=True,
        )
        self.address_line = ""

    def wait_until_up(self, timeout: float = 180.0) -> str:
        """The line the demo prints with its address, once the page answers."""
        assert self.process.stdout is not None
        self.address_line = self.process.stdout.readline().strip()
        if not self.address_line:
            raise RuntimeError(f"the demo exited before serving:\n{self.log.read_text()[-3000:]}")
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(self.url, timeout=5):
                    return self.address_line
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise
                time.sleep(0.5)

    def interrupt(self, timeout: float = 60.0) -> tuple[int, str]:
        """Ctrl-C: SIGINT, as a terminal sends it; returns (exit code, what it printed)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self._log_file.close()
        assert self.process.stdout is not None
        return code, self.process.stdout.read() + self.log.read_text()


@contextlib.contextmanager
def chromium(width: int = 1400, height: int = 1800) -> Iterator:
    """A headless Chromium through selenium, driven by Debian's chromedriver."""
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager: never download a driver
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={width},{height}",
        "--autoplay-policy=no-user-gesture-required",
        "--mute-audio",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


class DemoPage:
    """The demo's page in ``driver``: the person-video tab's inputs, button and outputs."""

    def __init__(self, driver, url: str) -> None:
        from selenium.webdriver.common.by import By

        self.driver = driver
        self.by = By
        driver.get(url)
        self.wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#generate"), 60)

    def wait_for(self, condition, timeout: float, poll: float = 0.25):
        """``condition()``'s first truthy value, or TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout:.0f} s in the page")
            time.sleep(poll)

    def css(self, selector: str):
        return self.driver.find_elements(self.by.CSS_SELECTOR, selector)

    def upload(self, *paths: Path) -> None:
        """Choose files in the photo box (its file input, as the file dialog does)."""
        box = self.css("#photos input[type=file]")[0]
        box.send_keys("\n".join(str(p) for p in paths))
        names = {Path(p).name for p in paths}
        self.wait_for(lambda: names <= set(self.files_shown("photos")), 30)

    def files_shown(self, elem_id: str) -> list[str]:
        """The names of the files a file box lists."""
        return [cell.get_attribute("aria-label") for cell in self.css(f"#{elem_id} td.filename")]

    def pick_example(self, label: str) -> None:
        """Click the shipped example labelled ``label`` (``name.jpg: prompt``)."""
        buttons = [b for b in self.css("button") if b.text.strip() == label]
        if not buttons:
            raise LookupError(f"no example {label!r}")
        buttons[0].click()
        name = label.split(":")[0]
        self.wait_for(lambda: name in self.files_shown("photos"), 30)

    def clear_photos(self) -> None:
        for button in self.css("#photos button[aria-label='Clear']"):
            button.click()

    def type_prompt(self, text: str) -> None:
        box = self.css("#prompt textarea")[0]
        box.clear()
        box.send_keys(text)

    def set_number(self, elem_id: str, value: object) -> None:
        box = self.css(f"#{elem_id} input")[0]
        box.clear()
        box.send_keys(str(value))

    def choose(self, elem_id: str, label: str) -> None:
        """Click the radio button labelled ``label`` in the group ``elem_id``."""
        for option in self.css(f"#{elem_id} label"):
            if option.text.strip() == label:
                option.click()
                return
        raise LookupError(f"no option {label!r} in #{elem_id}")

    def generate(self) -> float:
        """Click Generate; returns the moment of the click (``time.monotonic``)."""
        self.css("#generate")[0].click()
        return time.monotonic()

    def video_src(self, elem_id: str = "result-video") -> str:
        videos = self.css(f"#{elem_id} video")
        return (videos[0].get_attribute("src") or "") if videos else ""

    def busy(self, elem_id: str) -> bool:
        """Whether the output ``elem_id`` shows a job running (Gradio's status tracker)."""
        trackers = self.css(f"#{elem_id} [data-testid='status-tracker']")
        return any("hide" not in (t.get_attribute("class") or "").split() for t in trackers)

    def wait_for_video(self, old_src: str, timeout: float, elem_id: str = "result-video") -> str:
        """The URL of the video the page shows once the job clicked for is done (the same
        request twice gives the same file, so the URL alone cannot tell)."""
        self.wait_for(
            lambda: self.busy(elem_id) or self.video_src(elem_id) not in ("", old_src), 60
        )
        return self.wait_for(
            lambda: not self.busy(elem_id) and self.video_src(elem_id), timeout, poll=0.1
        )

    def error_message(self, timeout: float = 120.0) -> str:
        """The text of the error the page shows (Gradio's toast), then closes it."""
        text = self.wait_for(
            lambda: " ".join(t.text for t in self.css("[data-testid='toast-text']") if t.text),
            timeout,
        )
        for close in self.css("[data-testid='toast-close']"):
            with contextlib.suppress(Exception):  # gone already
                close.click()
        self.wait_for(lambda: not self.css("[data-testid='toast-text']"), 30)
        return text

    def text_of(self, elem_id: str) -> str:
        found = self.css(f"#{elem_id}")
        return found[0].text if found else ""
