"""`python -m vaulttools`: the same as the `vaulttools` command."""

import os
import sys

# `python -m` puts the current folder first on the import path. Run inside a vault, every later import
# would search its thousands of notes (again after each batch write changes the folder: ~0.08 s on
# 20,000 notes), and a file such as `json.py` in the vault could stand in for a module. The console
# script never has that folder on its path; drop it here too (what `python -P` does).
if not sys.flags.safe_path and sys.path and os.path.abspath(sys.path[0] or os.curdir) == os.getcwd():
    del sys.path[0]

from vaulttools.cli import main  # after the import path is fixed

if __name__ == "__main__":
    main()
