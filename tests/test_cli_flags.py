"""Issue 17: every flag does what its help says, tried from the command line as a new user would.

One test (or table) per row of the issue, each through the CLI (CliRunner, or a subprocess where the
process itself matters).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import click
import pytest
from click.shell_completion import ShellComplete
from click.testing import CliRunner, Result

from tests.conftest import SAMPLE_VAULT, git, snapshot
from vaulttools import cli as cli_module
from vaulttools import shell as shell_module
from vaulttools.api import Vault
from vaulttools.cli import cli
from vaulttools.commands.demo import demo_data
from vaulttools.config import Config, config_from_dict
from vaulttools.errors import VaultError


def run(*args: str, cwd: Path | None = None) -> Result:
    runner = CliRunner()
    if cwd is None:
        return runner.invoke(cli, list(args), catch_exceptions=False)
    old = Path.cwd()
    os.chdir(cwd)
    try:
        return runner.invoke(cli, list(args), catch_exceptions=False)
    finally:
        os.chdir(old)


def head(vault: Path) -> str:
    return git(vault, "rev-parse", "HEAD").strip()


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# Each writing command, with arguments that make it change something on the sample vault.
WRITING_COMMANDS = [
    ["rename", "concept-humane-imperative", "concept-humane-x"],
    ["normalize-links"],
    ["sync-related"],
    ["enrich", str(demo_data("enrich.yaml"))],
]


# --- row 1: --stat alone is a dry run --------------------------------------------------------------


@pytest.mark.parametrize("command", WRITING_COMMANDS, ids=lambda c: c[0])
def test_stat_alone_is_a_dry_run_that_prints_per_file_counts(sample_vault: Path, command: list[str]) -> None:
    before, commit = snapshot(sample_vault), head(sample_vault)
    result = run("-C", str(sample_vault), *command, "--stat")
    assert result.exit_code == 0, result.output
    assert " | +" in result.stdout
    assert "@@" not in result.stdout  # counts only, no diff
    assert "Dry run:" in result.stdout
    assert snapshot(sample_vault) == before
    assert head(sample_vault) == commit


def test_stat_help_says_it_writes_nothing() -> None:
    assert "Write nothing; print only the per-file line counts" in run("rename", "--help").stdout


# --- row 2: -q prints nothing on success -------------------------------------------------------------


@pytest.mark.parametrize("command", WRITING_COMMANDS, ids=lambda c: c[0])
def test_quiet_writing_command_prints_nothing_and_still_commits(
    sample_vault: Path, command: list[str]
) -> None:
    commit = head(sample_vault)
    result = run("-C", str(sample_vault), "-q", *command)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert head(sample_vault) != commit


def test_quiet_check_prints_nothing_on_a_clean_vault_and_findings_otherwise(tmp_path: Path) -> None:
    write(tmp_path / "a.md", "[[b]]\n")
    write(tmp_path / "b.md", "fine\n")
    clean = run("-C", str(tmp_path), "-q", "check")
    assert (clean.exit_code, clean.stdout) == (0, "")
    write(tmp_path / "c.md", "[[missing]]\n")
    found = run("-C", str(tmp_path), "-q", "check")
    assert found.exit_code == 1
    assert "broken-link" in found.stdout
    assert "notes checked" not in found.stdout  # the findings are the result; the summary is chatter


def test_quiet_errors_still_reach_stderr(sample_vault: Path) -> None:
    result = run("-C", str(sample_vault), "-q", "rename", "no-such-note", "x")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "no note named 'no-such-note'" in result.stderr


# --- row 3: undo offers no --no-commit -----------------------------------------------------------------


def test_undo_does_not_offer_no_commit(sample_vault: Path) -> None:
    assert "--no-commit" not in run("undo", "--help").stdout
    assert "--no-commit" not in run("redo", "--help").stdout
    result = run("-C", str(sample_vault), "undo", "--no-commit")
    assert result.exit_code == 2
    assert "No such option '--no-commit'" in result.stderr


# --- row 4: global options after the subcommand --------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["check", "-C", "{vault}"],
        ["check", "--vault", "{vault}", "-q"],
        ["-q", "check", "-C", "{vault}"],
        ["normalize-links", "-C", "{vault}", "--dry-run", "-q"],
        ["log", "-C", "{vault}"],
        ["config", "-C", "{vault}"],
        ["tag", "rename", "no-such-tag", "other", "--dry-run", "-C", "{vault}", "-q"],
        ["property", "delete", "no-such-key", "--dry-run", "-q", "-C", "{vault}"],
        ["tag", "list", "-q", "-C", "{vault}"],
    ],
)
def test_global_options_are_accepted_after_the_subcommand(sample_vault: Path, argv: list[str]) -> None:
    result = run(*[a.replace("{vault}", str(sample_vault)) for a in argv])
    assert result.exit_code in (0, 1), result.output
    assert "No such option" not in result.output
    if "-q" in argv and argv[0] not in ("normalize-links", "tag", "property"):
        assert "notes checked" not in result.stdout
    if "-q" in argv and argv[0] in ("tag", "property") and argv[1] != "list":
        assert result.stdout == ""
    if argv[:2] == ["tag", "list"]:
        assert "#ai" in result.stdout  # a listing prints what it lists under -q too
    if argv[0] == "config":
        assert str(sample_vault) in result.stdout


def test_quiet_after_undo_and_the_vault_after_the_command_win(sample_vault: Path, tmp_path: Path) -> None:
    run("-C", str(sample_vault), "normalize-links")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = run("-C", str(elsewhere), "undo", "-C", str(sample_vault), "-q")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert git(sample_vault, "log", "-1", "--format=%s").startswith("vaulttools undo:")


# --- row 5: a folder without notes, a folder that does not exist ----------------------------------------


def test_an_empty_folder_is_not_a_vault(tmp_path: Path) -> None:
    for command in (["check"], ["normalize-links"], ["check", "--json"]):
        result = run("-C", str(tmp_path), *command)
        assert result.exit_code == 2
        assert f"no notes in {tmp_path.resolve()} (is this the vault?)" in result.stderr


def test_the_api_refuses_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(VaultError, match="does not exist"):
        Vault(tmp_path / "nope")


# --- row 6: undo names what it reverted; redo takes an undo back ---------------------------------------


def test_undo_names_the_reverted_batch_and_redo_brings_it_back(sample_vault: Path) -> None:
    run("-C", str(sample_vault), "rename", "concept-humane-imperative", "concept-humane-x")
    renamed = snapshot(sample_vault)
    batch = head(sample_vault)
    undone = run("-C", str(sample_vault), "undo")
    assert undone.exit_code == 0, undone.output
    assert (
        f"Reverted {batch[:10]} `vaulttools rename: concept-humane-imperative → concept-humane-x` (rename batch)."
        in undone.stdout
    )
    assert "`vaulttools redo` takes this undo back" in undone.stdout
    assert (sample_vault / "concept-humane-imperative.md").exists()

    redone = run("-C", str(sample_vault), "redo", "--json")
    document = json.loads(redone.stdout)
    assert document["command"] == "redo"
    assert document["report"]["reverted"]["command"] == "undo"
    assert snapshot(sample_vault) == renamed
    assert git(sample_vault, "log", "-1", "--format=%s").startswith(f"vaulttools redo: redo {batch[:10]} (")

    again = run("-C", str(sample_vault), "undo", "--json")
    assert json.loads(again.stdout)["report"]["reverted"]["command"] == "redo"
    assert (sample_vault / "concept-humane-imperative.md").exists()
    # The next undo reaches past the rename (it is undone), so nothing is left to redo but that undo.
    nothing = run("-C", str(sample_vault), "redo")
    assert nothing.exit_code == 0, nothing.output
    assert snapshot(sample_vault) == renamed


def test_redo_without_an_undo_is_refused(sample_vault: Path) -> None:
    run("-C", str(sample_vault), "normalize-links")
    result = run("-C", str(sample_vault), "redo")
    assert result.exit_code == 2
    assert "nothing to redo: the latest batch" in result.stderr


def test_a_batch_hint_names_undo(sample_vault: Path) -> None:
    result = run("-C", str(sample_vault), "normalize-links")
    assert "`vaulttools undo` takes it back" in result.stdout


# --- rows 7 and 8: maps -----------------------------------------------------------------------------


def test_a_csv_map_with_comments_above_the_header(sample_vault: Path, tmp_path: Path) -> None:
    text = "# renames for the review\n\n# old,new below\nold,new\nentity-slack 1,entity-slack-app\n"
    map_file = write(tmp_path / "map.csv", text)
    result = run("-C", str(sample_vault), "rename", "--map", str(map_file))
    assert result.exit_code == 0, result.output
    assert "renamed: entity-slack 1.md → entity-slack-app.md" in result.stdout


def test_every_map_problem_is_listed_with_its_line(sample_vault: Path, tmp_path: Path) -> None:
    text = (
        "old,new\n"
        "concept-humane-imperativ,x\n"  # a typo
        "entity-slack 1,a:b\n"  # a bad new name
        "claim-async-wins-d3,y\n"
        "claim-async-wins-d3,z\n"  # the same note twice
        "just-one-cell\n"
    )
    map_file = write(tmp_path / "map.csv", text)
    before = snapshot(sample_vault)
    result = run("-C", str(sample_vault), "rename", "--map", str(map_file))
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"{map_file}:2: no note named 'concept-humane-imperativ' in the vault; did you mean "
        "'concept-humane-imperative' or 'concept-humane-imperative-extended'?",
        f"{map_file}:3: NEW 'a:b' contains :; note names cannot contain any of * \" \\ / < > : | ? # ^ [ ]",
        f"{map_file}:5: claim-async-wins-d3.md is renamed twice in the map ('claim-async-wins-d3' and "
        "'claim-async-wins-d3')",
        f"{map_file}:6: expected two cells `old,new`, got 'just-one-cell'",
        f"vaulttools: error: 4 problems in the map {map_file}; fix them and run again (nothing was written)",
    ]
    assert snapshot(sample_vault) == before


def test_a_yaml_map_duplicate_key_names_both_lines(sample_vault: Path, tmp_path: Path) -> None:
    map_file = write(tmp_path / "map.yaml", "a: b\nc: d\na: e\n")
    result = run("-C", str(sample_vault), "rename", "--map", str(map_file))
    assert result.exit_code == 2
    assert f"{map_file}:3: the map names 'a' again (first on line 1); keep one" in result.stderr


def test_a_binary_map_is_refused_in_plain_words(sample_vault: Path, tmp_path: Path) -> None:
    map_file = tmp_path / "map.csv"
    map_file.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    result = run("-C", str(sample_vault), "rename", "--map", str(map_file))
    assert result.exit_code == 2
    assert result.stderr == (
        f"vaulttools: error: {map_file} is a binary file, not a rename map; give a CSV (old,new) or YAML "
        "(old: new) file\n"
    )
    map_file.write_bytes(b"a,b\nc\xe9,d\n")
    assert (
        f"{map_file}:2: not UTF-8 text"
        in run("-C", str(sample_vault), "rename", "--map", str(map_file)).stderr
    )


def test_enrich_suggests_a_close_name_for_an_unknown_slug(sample_vault: Path, tmp_path: Path) -> None:
    data = write(tmp_path / "in.yaml", "concept-team-norm:\n  context: c\n  counterpoint: k\n")
    result = run("-C", str(sample_vault), "enrich", str(data))
    assert result.exit_code == 2
    assert (
        f"{data}:1: unknown slug 'concept-team-norm': no note has that name; did you mean 'concept-team-norms'?"
        in result.stderr
    )


# --- row 9: enrich refuses a slug two notes share -------------------------------------------------------


def test_enrich_refuses_a_slug_two_notes_share(sample_vault: Path, tmp_path: Path) -> None:
    write(sample_vault / "archive" / "concept-team-norms.md", "old copy\n")
    git(sample_vault, "add", "-A")
    git(sample_vault, "commit", "-qm", "a second note of that name")
    data = write(tmp_path / "in.yaml", "concept-team-norms:\n  context: c\n  counterpoint: k\n")
    result = run("-C", str(sample_vault), "enrich", str(data))
    assert result.exit_code == 2
    assert "ambiguous slug 'concept-team-norms': 2 notes have that name" in result.stderr
    assert "archive/concept-team-norms.md, concept-team-norms.md" in result.stderr


# --- row 10: --json on an error -------------------------------------------------------------------------


def test_json_errors_are_one_document_with_every_problem(sample_vault: Path, tmp_path: Path) -> None:
    data = write(tmp_path / "in.yaml", "nope-1:\n  context: c\n  counterpoint: k\nnope-2:\n  context: c\n")
    result = run("-C", str(sample_vault), "enrich", str(data), "--json")
    assert result.exit_code == 2
    document = json.loads(result.stdout)
    assert document["error"]["exit_code"] == 2
    assert document["error"]["message"].startswith("3 problems in ")
    assert len(document["problems"]) == 3
    assert all(problem.startswith(f"{data}:") for problem in document["problems"])


@pytest.mark.parametrize(
    "argv",
    [
        ["rename", "no-such-note", "x", "--json"],
        ["check", "--json", "--kind", "broken-link", "-C", "{empty}"],
        ["check", "--kind", "no-such-kind", "--json"],
        ["check", "--json", "--no-such-option"],
        ["rename", "--json", "one", "two", "three"],
    ],
)
def test_json_errors_of_other_commands(sample_vault: Path, tmp_path: Path, argv: list[str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run("-C", str(sample_vault), *[a.replace("{empty}", str(empty)) for a in argv])
    assert result.exit_code == 2
    document = json.loads(result.stdout)
    assert document["version"] == 1
    assert document["error"]["message"] in result.stderr
    assert document["problems"] == []


@pytest.mark.parametrize(
    "argv", [["check", "--no-such-option"], ["rename", "one", "two", "three"], ["rename", "--", "--json"]]
)
def test_a_command_line_error_without_json_leaves_stdout_empty(sample_vault: Path, argv: list[str]) -> None:
    result = run("-C", str(sample_vault), *argv)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "rror" in result.stderr


# --- row 11: a dry run checks what the real run would refuse ---------------------------------------------


def test_dry_run_says_the_real_run_would_refuse(sample_vault: Path) -> None:
    note = sample_vault / "concept-feedback-loops.md"
    note.write_bytes(note.read_bytes() + b"\nlocal edit\n")
    result = run("-C", str(sample_vault), "normalize-links", "--dry-run")
    assert result.exit_code == 2
    assert "@@" in result.stdout  # the diff is still shown
    assert "the real run would refuse: uncommitted changes in concept-feedback-loops.md" in result.stderr
    document = json.loads(run("-C", str(sample_vault), "normalize-links", "--dry-run", "--json").stdout)
    assert document["would_refuse"].startswith("uncommitted changes in concept-feedback-loops.md")
    real = run("-C", str(sample_vault), "normalize-links")
    assert real.exit_code == 2
    assert "uncommitted changes in concept-feedback-loops.md" in real.stderr


def test_dry_run_on_a_clean_vault_passes_the_checks(sample_vault: Path) -> None:
    result = run("-C", str(sample_vault), "normalize-links", "--dry-run")
    assert result.exit_code == 0
    assert "would refuse" not in result.output


def test_dry_run_outside_git_says_a_commit_needs_git(tmp_path: Path) -> None:
    vault = tmp_path / "vault"
    shutil.copytree(SAMPLE_VAULT, vault)
    result = run("-C", str(vault), "normalize-links", "--dry-run")
    assert result.exit_code == 2
    assert "the real run would refuse:" in result.stderr and "git init" in result.stderr
    assert run("-C", str(vault), "normalize-links", "--dry-run", "--no-commit").exit_code == 0


# --- row 12: `vaulttools config` prints TOML that reads back ----------------------------------------------


def test_config_prints_toml_that_reads_back_to_the_same_settings(tmp_path: Path) -> None:
    write(tmp_path / "a.md", "x\n")
    write(
        tmp_path / ".vaulttools.toml",
        "suffix_rules = ['-d\\d+', \"-v'\\\\d+\"]\nexclude = ['archive/**']\n"
        "[related]\nlimit = 7\nmin_score = 0.25\n[check]\nignore_kinds = ['missing-attachment']\n",
    )
    result = run("-C", str(tmp_path), "config")
    assert result.exit_code == 0
    printed = config_from_dict(tomllib.loads(result.stdout))
    expected = Vault(tmp_path).config
    assert printed.suffix_rules == ("-d\\d+", "-v'\\d+")
    assert (printed.exclude, printed.related, printed.check) == (
        expected.exclude,
        expected.related,
        expected.check,
    )
    assert printed == Config(**{**printed.__dict__, "sources": printed.sources})
    assert "limit = 7  # .vaulttools.toml" in result.stdout
    assert "suffix_rules = ['-d\\d+', \"-v'\\\\d+\"]  # .vaulttools.toml" in result.stdout


def test_default_config_round_trips(tmp_path: Path) -> None:
    write(tmp_path / "a.md", "x\n")
    result = run("-C", str(tmp_path), "config")
    read_back = config_from_dict(tomllib.loads(result.stdout))
    assert read_back == Config(sources=read_back.sources)


# --- row 13: missing attachments are their own kind; --kind / --ignore-kind ----------------------------


@pytest.fixture
def attachment_vault(tmp_path: Path) -> Path:
    write(tmp_path / "a.md", "![[photo.png]] and [[b]] and [[gone]] and ![](img/chart.PDF) ![[here.png]]\n")
    write(tmp_path / "b.md", "[[v1.2]]\n")
    (tmp_path / "here.png").write_bytes(b"\x89PNG")
    return tmp_path


def test_missing_attachments_are_a_kind_of_their_own(attachment_vault: Path) -> None:
    document = json.loads(run("-C", str(attachment_vault), "check", "--json").stdout)
    kinds = sorted((f["kind"], f["target"]) for f in document["findings"])
    assert kinds == [
        ("broken-link", "gone"),
        ("broken-link", "v1.2"),
        ("missing-attachment", "img/chart.PDF"),
        ("missing-attachment", "photo.png"),
    ]
    assert document["counts"]["missing-attachment"] == 2


@pytest.mark.parametrize(
    ("flags", "config", "expected", "code"),
    [
        (["--kind", "missing-attachment"], "", {"missing-attachment": 2}, 1),
        (["--ignore-kind", "missing-attachment"], "", {"broken-link": 2}, 1),
        (
            ["--kind", "broken-link", "--kind", "missing-attachment"],
            "",
            {"broken-link": 2, "missing-attachment": 2},
            1,
        ),
        (["--ignore-kind", "broken-link", "--ignore-kind", "missing-attachment"], "", {}, 0),
        ([], "[check]\nignore_kinds = ['missing-attachment']\n", {"broken-link": 2}, 1),
        ([], "[check]\nkinds = ['missing-attachment']\n", {"missing-attachment": 2}, 1),
        (["--kind", "broken-link"], "[check]\nkinds = ['missing-attachment']\n", {"broken-link": 2}, 1),
        (["--ignore-kind", "broken-link"], "[check]\nignore_kinds = ['missing-attachment']\n", {}, 0),
        ([], "", {"broken-link": 2, "missing-attachment": 2}, 1),  # no filter: everything
    ],
)
def test_check_kind_filters(
    attachment_vault: Path, flags: list[str], config: str, expected: dict[str, int], code: int
) -> None:
    if config:
        write(attachment_vault / ".vaulttools.toml", config)
    result = run("-C", str(attachment_vault), "check", "--json", *flags)
    assert result.exit_code == code
    counts = json.loads(result.stdout)["counts"]
    assert {kind: n for kind, n in counts.items() if n} == expected


def test_an_unknown_kind_is_refused_with_a_suggestion(attachment_vault: Path) -> None:
    result = run("-C", str(attachment_vault), "check", "--kind", "missing-attachments")
    assert result.exit_code == 2
    assert (
        "--kind: unknown finding kind 'missing-attachments'; did you mean 'missing-attachment'?"
        in result.stderr
    )
    result = run("-C", str(attachment_vault), "check", "--ignore-kind", "nope")
    assert "--ignore-kind: unknown finding kind 'nope'" in result.stderr
    write(attachment_vault / ".vaulttools.toml", "[check]\nkinds = ['nope']\n")
    result = run("-C", str(attachment_vault), "check")
    assert result.exit_code == 2
    assert "check.kinds: unknown finding kind 'nope'" in result.stderr


# --- row 14: a detached HEAD ------------------------------------------------------------------------


def test_a_batch_on_a_detached_head_warns(sample_vault: Path) -> None:
    commit = head(sample_vault)
    git(sample_vault, "checkout", "-q", "--detach")
    result = run("-C", str(sample_vault), "normalize-links")
    assert result.exit_code == 0
    new = head(sample_vault)
    assert f"HEAD is detached (at {commit[:10]}): the batch was committed as {new[:10]} on no branch" in (
        result.stderr
    )
    assert "git switch -c NAME" in result.stderr


def test_no_warning_on_a_branch(sample_vault: Path) -> None:
    assert "detached" not in run("-C", str(sample_vault), "normalize-links").stderr


# --- row 15: Ctrl-C ------------------------------------------------------------------------------------


class FakeBar:
    def __init__(self) -> None:
        self.closed = False

    def __call__(self, label: str, done: int, total: int) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def test_ctrl_c_message_starts_its_own_line_and_closes_the_bar(
    sample_vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bar = FakeBar()

    def interrupted(vault: object, **options: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(shell_module, "terminal_progress", lambda enabled: bar)  # App opens the vault
    monkeypatch.setattr(cli_module, "check_vault", interrupted)
    monkeypatch.setattr(cli_module, "_stderr_is_terminal", lambda: True)
    result = run("-C", str(sample_vault), "check")
    assert result.exit_code == 130
    assert result.stderr == "\nvaulttools: error: interrupted; nothing was written\n"
    assert bar.closed


def test_help_lists_every_exit_code() -> None:
    text = " ".join(run("--help").stdout.split())
    assert "0 success" in text and "1 check found problems" in text and "2 usage" in text
    assert "3 a batch failed" in text and "130 interrupted" in text


# --- row 16: the README's pre-commit snippet works as written --------------------------------------------


def test_readme_pre_commit_snippet_runs_with_pre_commit(sample_vault: Path, tmp_path: Path) -> None:
    pre_commit = shutil.which("pre-commit") or shutil.which(
        "pre-commit", path=str(Path(sys.executable).parent)
    )
    if pre_commit is None:
        pytest.skip("the pre-commit tool is not installed")
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    snippet = readme.split("```yaml\nrepos:", 1)[1].split("```", 1)[0]
    (sample_vault / ".pre-commit-config.yaml").write_text("repos:" + snippet)
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    git(sample_vault, "add", ".pre-commit-config.yaml")
    failing = subprocess.run(
        [pre_commit, "run", "--all-files"], cwd=sample_vault, env=env, capture_output=True, text=True
    )
    assert failing.returncode == 1, failing.stdout + failing.stderr
    assert "broken-link" in failing.stdout
    for note in sample_vault.rglob("*.md"):  # a vault with nothing to report passes
        note.write_text("clean\n")
    passing = subprocess.run(
        [pre_commit, "run", "--all-files"], cwd=sample_vault, env=env, capture_output=True, text=True
    )
    assert passing.returncode == 0, passing.stdout + passing.stderr
    assert "Passed" in passing.stdout


# --- row 17: hints after --no-commit ------------------------------------------------------------------


def test_no_commit_hints_fit_the_situation(sample_vault: Path, tmp_path: Path) -> None:
    in_git = run("-C", str(sample_vault), "normalize-links", "--no-commit")
    assert "not committed (--no-commit). Review with `git diff`" in in_git.stdout
    plain = tmp_path / "plain"
    shutil.copytree(SAMPLE_VAULT, plain)
    outside = run("-C", str(plain), "normalize-links", "--no-commit")
    assert outside.exit_code == 0
    assert "git diff" not in outside.stdout
    assert "not in a git repository, so there is no diff to review" in outside.stdout


# --- row 18: the demo's closing hint is shell-quoted --------------------------------------------------


def test_demo_hint_quotes_a_folder_with_spaces(tmp_path: Path) -> None:
    target = tmp_path / "my demo"
    result = run("demo", str(target))
    assert result.exit_code == 0, result.output
    assert f"cd '{target}' && git log -p" in result.stdout
    assert f"vaulttools -C '{target}' undo" in result.stdout


# --- shell completion of note names ------------------------------------------------------------------


def completions(args: list[str], incomplete: str) -> list[str]:
    complete = ShellComplete(cli, {}, "vaulttools", "_VAULTTOOLS_COMPLETE")
    return [item.value for item in complete.get_completions(args, incomplete)]


def test_note_names_complete(sample_vault: Path) -> None:
    vault = str(sample_vault)
    assert completions(["-C", vault, "rename"], "concept-hu") == [
        "concept-humane-imperative",
        "concept-humane-imperative-extended",
    ]
    assert completions(["rename", "-C", vault], "ENTITY-SL") == ["entity-slack 1"]
    assert completions(["-C", vault, "sync-related", "--explain"], "quote-fe") == ["quote-feedback-is-a-gift"]
    assert completions(["-C", vault, "rename"], "sources/") == sorted(
        p.relative_to(sample_vault).as_posix()[:-3] for p in (sample_vault / "sources").glob("*.md")
    )
    assert completions(["-C", vault, "merge"], "entity-sl") == ["entity-slack 1"]
    assert completions(["-C", vault, "merge", "entity-slack 1", "--into"], "concept-team-n") == [
        "concept-team-norms"
    ]
    assert completions(["-C", vault, "rename"], "zzz") == []
    assert completions(["-C", str(sample_vault / "nope"), "rename"], "c") == []


def test_the_api_dry_run_reports_what_the_real_run_would_refuse(sample_vault: Path) -> None:
    vault = Vault(sample_vault)
    plan = vault.normalize_links()
    assert vault.apply(plan, dry_run=True).would_refuse is None
    note = sample_vault / "concept-feedback-loops.md"
    note.write_bytes(note.read_bytes() + b"\nlocal edit\n")
    refusal = vault.apply(plan, dry_run=True).would_refuse
    assert refusal is not None and refusal.startswith("uncommitted changes in concept-feedback-loops.md")


def test_map_names_already_taken_are_listed_with_their_lines(sample_vault: Path, tmp_path: Path) -> None:
    map_file = write(
        tmp_path / "map.csv",
        "entity-slack 1,concept-team-norms\nclaim-async-wins-d3,same\nclaim-async-wins-d9,same\nnope,x\n",
    )
    result = run("-C", str(sample_vault), "rename", "--map", str(map_file))
    assert result.exit_code == 2
    assert result.stderr.splitlines()[:4] == [
        f"{map_file}:1: concept-team-norms.md already exists (letter case ignored); choose another name",
        f"{map_file}:3: claim-async-wins-d3.md and claim-async-wins-d9.md would both become same.md; "
        "give them different names",
        f"{map_file}:4: no note named 'nope' in the vault; check the name",
        f"vaulttools: error: 3 problems in the map {map_file}; fix them and run again (nothing was written)",
    ]


def test_dry_run_refuses_like_the_real_run_for_an_untracked_note(sample_vault: Path) -> None:
    write(sample_vault / "new-note.md", "see [[claim-peer-feedback]]\n")  # untracked, and fixable
    result = run("-C", str(sample_vault), "normalize-links", "--dry-run")
    assert result.exit_code == 2
    assert "+++ b/new-note.md" in result.stdout
    assert "the real run would refuse: uncommitted changes in " in result.stderr
    assert "new-note.md" in result.stderr.splitlines()[-1]


def test_every_command_takes_the_global_options_after_it() -> None:
    """Each leaf command, in groups too (`tag rename … -q`), lists `-C` and `-q` in its own help."""
    from vaulttools.cli import cli

    def leaves(group: click.Group, path: list[str]) -> list[list[str]]:
        found = []
        for name in group.list_commands(click.Context(group)):
            command = group.get_command(click.Context(group), name)
            if isinstance(command, click.Group):
                found += leaves(command, [*path, name])
            elif name != "demo":
                found.append([*path, name])
        return found

    commands = leaves(cli, [])
    assert ["tag", "rename"] in commands and ["property", "delete"] in commands
    for command in commands:
        result = run(*command, "--help")
        assert "-q, --quiet" in result.output and "-C, --vault DIR" in result.output, command


@pytest.mark.parametrize("limit", ["0", "-1", "x"])
def test_log_refuses_a_limit_below_one(sample_vault: Path, limit: str) -> None:
    result = run("-C", str(sample_vault), "log", "-n", limit)
    assert result.exit_code == 2
    assert "Invalid value for '-n' / '--limit'" in result.output
