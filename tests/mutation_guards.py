"""Mutation check of the verify step's guards, with the whole test files (issue 14).

Usage::

    python tests/mutation_guards.py [pytest paths...]   # default: tests/test_verify_guards.py

Runs pytest once per guard of `tests.helpers.GUARDS`, with that guard turned into a no-op for
the whole run (this file is loaded as a pytest plugin that patches it at start-up), and exits non-zero if
some guard could be turned off with every test still passing. The suite's own
`test_turning_a_guard_off_makes_a_case_fail` makes the same check in-process and cheaply; this script is the
slower, stronger form: every test of the given files gets the chance to notice the missing guard.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

MUTATE_ENV = "VAULTTOOLS_MUTATE_GUARD"
REPO = Path(__file__).resolve().parent.parent


def pytest_configure(config: object) -> None:
    """As a pytest plugin: turn the guard named by MUTATE_ENV off for the whole run."""
    name = os.environ.get(MUTATE_ENV)
    if not name:
        return
    from tests.helpers import GUARDS

    module, attribute, mutant = GUARDS[name]
    setattr(module, attribute, mutant(getattr(module, attribute)))


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(REPO))
    from tests.helpers import GUARDS

    paths = argv or ["tests/test_verify_guards.py"]
    survived = []
    for name in GUARDS:
        result = subprocess.run(
            # The in-process mutation test is left out: under a mutated guard it passes by design.
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-x",
                "-p",
                "tests.mutation_guards",
                "-k",
                "not turning",
                *paths,
            ],
            cwd=REPO,
            env={**os.environ, MUTATE_ENV: name},
            capture_output=True,
            text=True,
        )
        caught = result.returncode == 1  # 1: tests failed; anything else (errors, no tests) is not a catch
        print(f"{'caught' if caught else 'SURVIVED'}: {name} turned off (pytest exit {result.returncode})")
        if not caught:
            survived.append(name)
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
