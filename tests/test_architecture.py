"""The clinic's knowledge (ketaflow.clinical) and the pharmacokinetic engine (ketaflow.pk) are
plain Python: importing them must not import Django, directly or through anything they import."""

import subprocess
import sys

import pytest


@pytest.mark.parametrize("package", ["ketaflow.clinical", "ketaflow.pk", "ketaflow.cli.common"])
def test_plain_package_imports_no_django(package: str) -> None:
    code = (
        "import importlib, pkgutil, sys\n"
        f"pkg = importlib.import_module({package!r})\n"
        "for info in pkgutil.walk_packages(getattr(pkg, '__path__', []), pkg.__name__ + '.'):\n"
        "    importlib.import_module(info.name)\n"
        "bad = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "", f"{package} imports Django modules: {out}"
