"""Open every page of the built documentation in headless Chromium at 1366x768 and list the code that scrolls.

A ``pre`` block or a table whose content is wider than its box hides the ends
of its lines behind a scroll bar: the check prints each one with its page and
exits with 1 if there is any.

Usage (after building the site; Playwright and Chromium are not project
dependencies)::

    pip install playwright   # then Debian's chromium, or: python -m playwright install chromium
    python docs/check_layout.py docs/_build/html [--chromium /usr/bin/chromium]
"""

import argparse
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

VIEWPORT = {"width": 1366, "height": 768}
#: the elements of the page's text whose content is wider than their box
OVERFLOWING = """() => [...document.querySelectorAll('article pre, article table')]
    .filter(element => element.scrollWidth > element.clientWidth + 1)
    .map(element => [element.tagName.toLowerCase(), element.scrollWidth, element.clientWidth,
                     element.textContent.trim().split('\\n')[0].slice(0, 70)])"""
#: pages of the site with no text of the project's own
GENERATED_PAGES = {"genindex.html", "search.html", "py-modindex.html"}


def site_pages(site):
    """The HTML pages of the built ``site`` (a folder), those of the theme's assets and Sphinx's indexes aside."""
    return sorted(page for page in site.rglob("*.html")
                  if not {"_static", "_sources", "_images"} & set(page.parts) and page.name not in GENERATED_PAGES)


def overflowing_elements(site, chromium=None):
    """``{page: [(tag, content width, box width, first line), ...]}`` of the pages with elements that scroll."""
    found = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium,
                                             args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page(viewport=VIEWPORT)
        for path in site_pages(site):
            page.goto(path.as_uri())
            elements = page.evaluate(OVERFLOWING)
            if elements:
                found[path.relative_to(site)] = elements
        browser.close()
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path, help="the built site, such as docs/_build/html")
    parser.add_argument("--chromium", help="the Chromium executable (default: Playwright's own)")
    arguments = parser.parse_args()
    found = overflowing_elements(arguments.site, arguments.chromium)
    for page, elements in found.items():
        print(page)
        for tag, content, box, first_line in elements:
            print(f"    {tag} {content}px in {box}px: {first_line}")
    print(f"{len(site_pages(arguments.site))} pages at {VIEWPORT['width']}px, "
          f"{sum(map(len, found.values()))} elements wider than their box")
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
