"""report.html in a real headless browser (Debian's chromium): the page loads offline and its
screenshot shows every table and every chart.

Where each table and chart sits is read from the browser itself (a copy of the page with a probe
script, dumped with --dump-dom), so the test checks the pixels where each one really is rather
than guessing a layout. The window is 1400 px wide and as tall as the page (at least 4000 px),
because a full report is taller than one screen.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_report_fixtures import make_run

from harness import family
from harness.report import write_report

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
WIDTH, MIN_HEIGHT = 1400, 4000
PROBE = """<script>
const boxes = [...document.querySelectorAll("table, figure img")].map(e => {
  const r = e.getBoundingClientRect();
  return {id: e.id || e.closest("figure").id, kind: e.tagName.toLowerCase(), x: r.left, y: r.top + scrollY, w: r.width, h: r.height};
});
document.body.setAttribute("data-layout", JSON.stringify({height: document.documentElement.scrollHeight, boxes}));
</script></body>"""


def browser() -> str:
    for name in BROWSERS:
        if path := shutil.which(name):
            return path
    pytest.skip(f"no headless browser found (looked for {', '.join(BROWSERS)}); on Debian: apt-get install -y chromium")


def chromium(binary: str, profile: Path, height: int, *args: str) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--no-first-run", f"--user-data-dir={profile}", f"--window-size={WIDTH},{height}"]
    return subprocess.run([binary, *flags, *args], capture_output=True, text=True, timeout=120)


def layout(binary: str, page: Path, tmp_path: Path) -> dict:
    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE), encoding="utf-8")
    done = chromium(binary, tmp_path / "profile-probe", MIN_HEIGHT, "--dump-dom", probe.as_uri())
    found = re.search(r'data-layout="([^"]+)"', done.stdout)
    assert found, f"the probe did not run: {done.stderr[-2000:]}"
    return json.loads(found.group(1).replace("&quot;", '"'))


def test_report_html_screenshot_shows_every_table_and_chart(tmp_path: Path):
    binary = browser()
    run = make_run(tmp_path / "runs")
    written = write_report([run])
    page = next(p for p in written if p.name == "report.html")
    n_charts = sum(p.suffix == ".png" for p in written)

    found = layout(binary, page, tmp_path)
    height = max(MIN_HEIGHT, int(found["height"]) + 50)
    shot = Path(os.environ.get("GLM_EVAL_SCREENSHOT", tmp_path / "report.png"))
    done = chromium(binary, tmp_path / "profile", height, f"--screenshot={shot}", page.as_uri())
    assert shot.exists(), f"chromium wrote no screenshot: {done.stderr[-2000:]}"
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert pixels.shape[:2] == (height, WIDTH)
    assert np.mean(np.any(pixels < 245, axis=2)) > 0.05, "the screenshot is nearly blank"

    banner = pixels[5:30, 100:1300]
    assert (np.abs(banner - (0xD5, 0x5E, 0x00)).max(axis=2) < 10).mean() > 0.5, "no SIMULATED banner at the top"

    tables = [b for b in found["boxes"] if b["kind"] == "table"]
    charts = [b for b in found["boxes"] if b["kind"] == "img"]
    assert len(tables) >= 10 and len(charts) == n_charts == 6
    for box in tables + charts:
        x, y, w, h = (round(box[k]) for k in ("x", "y", "w", "h"))
        assert w > 100 and h > 40 and y + h <= height, f"{box['id']} is not on the screenshot: {box}"
        region = pixels[y : y + h, x : x + w]
        ink = np.mean(np.any(region < 245, axis=2))
        assert ink > (0.03 if box["kind"] == "table" else 0.05), f"{box['id']} looks empty ({ink:.1%} ink)"
    for box in charts:
        x, y, w, h = (round(box[k]) for k in ("x", "y", "w", "h"))
        region = pixels[y : y + h, x : x + w].reshape(-1, 3)
        colours = [np.array([int(family.colours()[v][i : i + 2], 16) for i in (1, 3, 5)]) for v in ("glm-4.5", "glm-4.5-air")]
        hits = [(np.abs(region - c).max(axis=1) < 25).sum() for c in colours]
        assert min(hits) > 20 or box["id"] == "chart-math500_subjects", f"{box['id']}: variant colours missing {hits}"
