"""One expected-failure exception type, with an exit code; the CLI turns it into one line on stderr."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_FAILED = 3


class VaultError(Exception):
    """A failure the user can act on: the message says what is wrong and what to do."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, exit_code: int | None = None, *, lines: list[str] | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code
        self._lines = list(lines or ())

    @property
    def message(self) -> str:
        return str(self.args[0])

    @property
    def lines(self) -> list[str]:
        """Every problem found, one `FILE:LINE: …` line each, when the message sums up several."""
        return self._lines


class ConfigError(VaultError):
    """`.vaulttools.toml` or `.obsidian/app.json` is invalid."""


class GitError(VaultError):
    """git refused or failed; the vault is left as it was."""

    exit_code = EXIT_FAILED


class DirtyFilesError(VaultError):
    """A file the batch must touch has uncommitted changes."""


NOTHING_WRITTEN = "; nothing was written"


class EditConflict(VaultError):
    """A planned edit no longer matches the text it was planned against.

    Raised through `in_file`, it also carries the file and the bare reason, so a planner that skips the
    one note and goes on (normalize) reports the reason without taking the message apart."""

    exit_code = EXIT_FAILED
    path: str | None = None
    reason: str | None = None

    @classmethod
    def in_file(cls, path: str, reason: str, ending: str = NOTHING_WRITTEN) -> EditConflict:
        """`PATH: REASON; nothing was written` (or another `ending`), with `path` and `reason` kept."""
        error = cls(f"{path}: {reason}{ending}")
        error.path, error.reason = path, reason
        return error


class BatchAborted(VaultError):
    """Writing a batch failed; every written file was restored."""

    exit_code = EXIT_FAILED
