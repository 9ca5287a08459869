"""Copy the browser test's documentation screenshots into docs/images/ (issue 40.4).

`make test` (its browser test) writes them to .local/screenshots/docs/; this keeps the ones the
docs show, refusing any over the size the repository accepts, so that a reviewer sees what the
console and the ops overview look like today without running anything.

    python scripts/docs_screenshots.py           copy, after `make test` or the browser test
    python scripts/docs_screenshots.py --check   only check docs/images (sizes, references)
"""

import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TAKEN = REPO / ".local" / "screenshots" / "docs"
IMAGES = REPO / "docs" / "images"
MAX_BYTES = 200 * 1024
# The screenshot, and the page of the docs that shows it.
SHOWN_IN = {
    "02-inbox-live-alert.png": "docs/console.md",
    "04b-case-page.png": "docs/console.md",
    "10-incentives-risk-compensation.png": "docs/console.md",
    "11-ops-overview.png": "docs/operations.md",
}


def problems() -> list[str]:
    found = []
    for name, doc in SHOWN_IN.items():
        image = IMAGES / name
        if not image.exists():
            found.append(f"{image.relative_to(REPO)} is missing")
            continue
        if image.read_bytes()[:8] != b"\x89PNG\r\n\x1a\n":
            found.append(f"{image.relative_to(REPO)} is not a PNG")
        if image.stat().st_size > MAX_BYTES:
            found.append(f"{image.relative_to(REPO)} is {image.stat().st_size // 1024} KB (at most 200)")
        if f"images/{name}" not in (REPO / doc).read_text(encoding="utf-8"):
            found.append(f"{doc} does not show images/{name}")
    return found


def main() -> int:
    if "--check" not in sys.argv:
        IMAGES.mkdir(parents=True, exist_ok=True)
        for name in SHOWN_IN:
            source = TAKEN / name
            if not source.exists():
                print(f"{source.relative_to(REPO)} is missing: run the browser test first", file=sys.stderr)
                return 1
            shutil.copyfile(source, IMAGES / name)
            print(f"docs/images/{name}: {source.stat().st_size // 1024} KB")
    wrong = problems()
    for problem in wrong:
        print(problem, file=sys.stderr)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
