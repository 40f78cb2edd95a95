"""The README's configuration table names every environment variable the app reads."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_setting_read_from_the_environment_is_documented() -> None:
    read: set[str] = set()
    for path in (ROOT / "src" / "ketaflow").rglob("*.py"):
        read |= set(
            re.findall(r"""environ(?:\.get)?[\[(]\s*["'](KETAFLOW_[A-Z0-9_]+)""", path.read_text())
        )
    assert "KETAFLOW_TIME_ZONE" in read  # the scan finds what it should
    readme = (ROOT / "README.md").read_text()
    table = "\n".join(line for line in readme.splitlines() if line.startswith("| `"))
    documented = set(re.findall(r"KETAFLOW_[A-Z0-9_]+", table))
    # "`KETAFLOW_EMAIL_HOST`, `_PORT`" documents KETAFLOW_EMAIL_PORT too
    for line in table.splitlines():
        head = re.match(r"\| `(KETAFLOW_[A-Z0-9]+_)", line)
        if head:
            documented |= {head.group(1) + s for s in re.findall(r"`_([A-Z0-9_]+)`", line)}
    missing = sorted(read - documented)
    assert not missing, f"not in the README's configuration table: {missing}"
