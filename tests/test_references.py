"""Every reference document a comment or docstring cites is in the repository, and every section
it names exists there.

Code cites the clinical and pharmacokinetic reference by file and section: ``clinical.md s. 4.2``,
``pk.md §1a``, ``docs/reference/clinical.md section 7``. A bare name means the file of that name
in ``docs/reference/`` (see its README); a path is relative to the repository's root."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "docs" / "reference"
CITED = re.compile(r"(?<![\w.-])((?:[\w.-]+/)*[\w-]+\.md)\b")
SECTION = re.compile(
    r"(?<![\w.-])(?:docs/reference/)?([\w-]+\.md)[`;:,]*\s*(?:s\.|§|section)?\s?"
    r"(\d+(?:\.\d+)?[a-z]?)\b"
)


def _sources() -> list[Path]:
    files = [*(ROOT / "src").rglob("*.py"), *(ROOT / "tests").rglob("*.py")]
    files += (ROOT / "src").rglob("*.html")
    return sorted(f for f in files if f != Path(__file__).resolve())


def _resolve(name: str) -> Path:
    return ROOT / name if "/" in name else REFERENCE / name


def _headings(path: Path) -> set[str]:
    """The section numbers of a reference file: "## 4. ..." gives 4, "### 4.2 ..." gives 4.2,
    "### 1a. ..." gives 1a."""
    found: set[str] = set()
    for line in path.read_text().splitlines():
        match = re.match(r"#{2,4}\s+(\d+(?:\.\d+)?[a-z]?)\.?\s", line)
        if match:
            found.add(match.group(1))
    return found


def test_every_cited_file_is_in_the_repository() -> None:
    missing: list[str] = []
    cited = 0
    for path in _sources():
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            for name in CITED.findall(line):
                if name.lower() == "readme.md" or name.startswith("http"):
                    continue
                cited += 1
                if not _resolve(name).is_file():
                    missing.append(f"{path.relative_to(ROOT)}:{number}: {name}")
    assert cited > 50  # the scan finds the citations it should
    assert not missing, "cited but not in the repository:\n" + "\n".join(missing)


def test_every_cited_section_exists() -> None:
    missing: list[str] = []
    checked = 0
    headings: dict[str, set[str]] = {}
    for path in _sources():
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            for name, section in SECTION.findall(line):
                target = REFERENCE / name
                if not target.is_file():
                    continue
                known = headings.setdefault(name, _headings(target))
                checked += 1
                if section not in known:
                    missing.append(f"{path.relative_to(ROOT)}:{number}: {name} {section}")
    assert checked > 50
    assert not missing, "sections cited but not in the reference:\n" + "\n".join(missing)


def test_the_scan_would_catch_a_missing_file_and_section(tmp_path: Path) -> None:
    assert not _resolve("nowhere.md").is_file()
    assert "9.9" not in _headings(REFERENCE / "clinical.md")
    assert {"3", "4.2"} <= _headings(REFERENCE / "clinical.md")
    assert {"1a", "5"} <= _headings(REFERENCE / "pk.md")
