"""Debian's Chromium driven by Playwright (never a downloaded browser), for the pages' tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
# Headless as root, with nothing reaching for the internet this machine does not have.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREEN = {"width": 1366, "height": 768}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(
            "Debian chromium is not installed at /usr/bin/chromium (apt-get install chromium)"
        )
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (no cookies) at 1366×768, accepting downloads, on a machine
    whose own clock is not in China: the pages show Shanghai time whatever the reader's zone."""
    context = browser.new_context(viewport=SCREEN, accept_downloads=True, locale="zh-CN",
                                  timezone_id="America/New_York")  # fmt: skip
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="session")
def screens(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the pages' screenshots go: $PAGES_SCREENSHOT_DIR, else a test folder."""
    chosen = os.environ.get("PAGES_SCREENSHOT_DIR")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("screens")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def screenshot(page: Page, folder: Path, name: str) -> Path:
    """The page at 1366×768, saved as `name`.png; fails when the picture is blank (one
    colour nearly everywhere, or too few colours to hold any text)."""
    path = folder / f"{name}.png"
    page.screenshot(path=str(path))
    with Image.open(path) as shot:
        assert shot.size == (SCREEN["width"], SCREEN["height"]), shot.size
        colours = shot.convert("RGB").getcolors(maxcolors=1 << 20) or []
    pixels = SCREEN["width"] * SCREEN["height"]
    most = max(count for count, _ in colours)
    assert len(colours) > 40 and most / pixels < 0.97, (
        f"{path} looks blank: {len(colours)} colours, {most / pixels:.1%} one colour"
    )
    return path


_GLYPHS = """([selector, texts]) => {
  const el = document.querySelector(selector);
  const canvas = document.createElement('canvas');
  canvas.width = 64; canvas.height = 64;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.font = getComputedStyle(el).font;
  return texts.map((t) => {
    ctx.clearRect(0, 0, 64, 64);
    ctx.fillText(t, 4, 48);
    return Array.from(ctx.getImageData(0, 0, 64, 64).data).join(',');
  });
}"""


def assert_real_glyphs(page: Page, selector: str, text: str) -> None:
    """Each character of `text`, in the font of the element at `selector`, is drawn
    differently from the others and from a character no font has: without a CJK font they
    all come out as the same missing-glyph box (Makefile installs fonts-noto-cjk;
    deploy/README.md names it)."""
    assert len(set(text)) == len(text)
    drawn = page.evaluate(_GLYPHS, [selector, [*text, "\U000f0000"]])
    missing = drawn[-1]
    assert all(glyph != missing for glyph in drawn[:-1]), f"{text} renders as missing glyphs"
    assert len(set(drawn[:-1])) == len(text), f"distinct characters of {text} drew the same shape"
