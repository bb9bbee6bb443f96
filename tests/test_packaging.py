"""A plain `pip install .` must carry the sample vault (dot-folders included) and the demo data.

setuptools expands `package-data` patterns with `glob(..., recursive=True)`, which skips dot-files and
dot-folders unless a pattern names them: expand the patterns the same way and compare with the tree.
"""

import glob
import tomllib

from tests.conftest import REPO_ROOT


def test_package_data_patterns_cover_sample_vault_and_demo_data() -> None:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["vaulttools"]
    package = REPO_ROOT / "vaulttools"
    covered = {
        path
        for pattern in patterns
        for path in glob.glob(pattern, root_dir=package, recursive=True)
        if (package / path).is_file()
    }
    expected = {
        p.relative_to(package).as_posix()
        for folder in ("sample_vault", "demo_data")
        for p in (package / folder).rglob("*")
        if p.is_file()
    }
    assert expected
    assert sorted(expected - covered) == []
