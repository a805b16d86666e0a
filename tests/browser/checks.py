"""Shared checks for the browser tests: axe-core accessibility scans, the build's budget."""

from __future__ import annotations

import gzip
import json
import re
from typing import Any

from playwright.sync_api import Page

from tests.browser.harness import DIST, ROOT, missing

AXE = ROOT / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
PACKAGE = ROOT / "frontend" / "package.json"


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations of the page as it is now."""
    if not AXE.exists():
        missing(f"{AXE} is missing: run `cd frontend && npm ci`")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE))
    found: list[dict[str, Any]] = page.evaluate(
        """async () => {
            const result = await axe.run(document, { resultTypes: ['violations'] })
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ')),
            }))
        }"""
    )
    return [v for v in found if v["impact"] in {"serious", "critical"}]


def assert_accessible(page: Page, where: str) -> None:
    violations = axe_violations(page)
    assert not violations, f"{where}: {json.dumps(violations, indent=2)}"


def first_load_files() -> list[str]:
    """The JS files index.html makes the browser load before anything else."""
    html = (DIST / "index.html").read_text()
    scripts = re.findall(r'<script[^>]+type="module"[^>]+src="(/assets/[^"]+\.js)"', html)
    preloads = re.findall(r'<link[^>]+rel="modulepreload"[^>]+href="(/assets/[^"]+\.js)"', html)
    return sorted(set(scripts + preloads))


def first_load_gzip_kib() -> float:
    total = 0
    for name in first_load_files():
        total += len(gzip.compress((DIST / name.lstrip("/")).read_bytes(), compresslevel=9))
    return total / 1024


def budget_kib() -> float:
    return float(json.loads(PACKAGE.read_text())["bundleBudget"]["firstLoadJsGzipKiB"])
