#!/usr/bin/env python3
"""Time every vaulttools command as a whole process on a synthetic vault, against the floor.

Usage::

    python bench/run.py [--notes 1000|20000|100000] [--profile article,dense,deep,long,folders,crlf,code] [--runs 3]
                        [--only check,rename,...] [--json FILE]

What it does:
    1. generates a vault with bench/generate.py (seeded) into bench/out/vault-<N>-s<seed>/, makes it a git
       repository and tags the first commit `bench-base`; later runs reuse it (delete the folder to regenerate);
    2. measures the floor (before and after the commands, at least 3 reads each time, median of all): a
       Python process (same interpreter) that walks the vault and reads every note's
       bytes, and `grep -rlF <hub slug>` for reference;
    3. times each command as a whole process (`python -m vaulttools -q ...`), median of --runs runs, with a
       warm page cache (one untimed warm-up run of every command first). Before every run of a writing
       command the vault is reset: `git reset --hard -q bench-base && git clean -fdq`; before every run the
       files the preparation wrote are put on disk (`os.sync`, untimed), so that a batch's own sync writes
       out its own files, not also the thousands of notes the reset rewrote;
    4. prints a table: seconds (median), ratio to the floor, peak RSS (max over the runs) and the goal,
       then the files each writing row's last run committed (rewritten, added, deleted: its work);
    5. with the `rename` row, the phases of rename against the floor of a rename (see `rename_phases`);
    6. under each table, the machine's own speed before and after the rows (`CPU_LOOP`, `MEMORY_LOOP`): fixed
       Python probes alone and two at once, so that a table measured in a slow hour of a shared host says so.

`--profile` names one vault shape of bench/generate.py or several, comma-separated (`all`: every one); each
profile gets its own vault (`bench/out/vault-<profile>-<N>-s<seed>/`; the article one keeps its old name),
its own floor and its own table.

`normalize-first`: `normalize-links` where git lacks the batch's new bytes, as on a user's first run: before
each run every object earlier runs made is dropped (`git reflog expire` and `git gc --prune=now`, untimed).
The `normalize-links` row runs after a warm-up run stored them, as after an `undo` (no goal of its own).

`recover`: before each run, `normalize-links` is killed (SIGKILL through the batch's fault hook) right after
its write number notes/4, and `recover` puts those files back. The row after it, `write phase`, is the same
batch's own write phase, whole: killed right after its commit, less killed before its journal (`start`):
journal, every write, the sync and the commit; medians of --runs pairs. `recover` should take no longer.

Cache semantics (`.vaulttools/cache/`, ignored by git, so `git clean -fdq` keeps it):
    * `check-fresh`: `.vaulttools/` is deleted before each run ("first run on a fresh copy");
    * `check-warm`: the cache is left as the previous run wrote it ("again on an unchanged vault");
    * writing commands: after the reset, an untimed `check --json` refreshes the cache, so each run starts
      as it would in a vault that was already checked (the files the previous run changed are re-parsed).

Peak RSS is the largest resident set of the command's process or any of its workers (the largest single
process, not the sum of processes that ran at once), as `/usr/bin/time -f %M` reports it. Without
/usr/bin/time it is `RUSAGE_CHILDREN`'s maximum, an upper bound (Linux carries a forking parent's
high-water mark into the child, so the runner's own ~30 MB is the least it can show).

The timed processes run with compiled bytecode, as an installed vaulttools does (see `with_bytecode`).
Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
HUB = "concept-hub-note"
HUB_NEW = "concept-hub-renamed"
BASE_TAG = "bench-base"
DUPLICATES_TAG = "bench-duplicates"  # bench-base plus day-suffixed copies of 1 % of the notes (merge-all)
DUPLICATE_EVERY = 100
ENRICH_NOTES = 200
TAG_SHARE = 0.05  # `tag-rename` renames the tag closest to this share of the notes
RENAME_MAP_EVERY = 10  # `undo-map` undoes a `rename --map` of every tenth note (2,000 of 20,000)
TAG_NEW = "bench-renamed-tag"
RSS_LIMIT_MB = 1024  # the ceiling on 100,000 notes
PROFILE_NAMES = (
    "article",
    "dense",
    "deep",
    "long",
    "folders",
    "crlf",
    "code",
)  # bench/generate.py's PROFILES
TIME_BINARY = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None

# The floor of a rename: read every note and keep those whose bytes spell the old name (the byte prefilter),
# write those with the name replaced and the note under its new name, then one `git add` and one commit.
RENAME_FLOOR_CODE = """
import json, os, subprocess, sys, time
root, old, new = sys.argv[1], sys.argv[2].encode(), sys.argv[3].encode()
start = time.perf_counter()
mentions = []
for folder, dirs, files in os.walk(root):
    dirs[:] = [d for d in dirs if not d.startswith(".")]
    for name in files:
        if name.endswith(".md"):
            path = os.path.join(folder, name)
            with open(path, "rb") as handle:
                data = handle.read()
            if old in data:
                mentions.append((path, data))
read = time.perf_counter()
for path, data in mentions:
    with open(path, "wb") as handle:
        handle.write(data.replace(old, new))
os.rename(os.path.join(root, old.decode() + ".md"), os.path.join(root, new.decode() + ".md"))
os.sync()
written = time.perf_counter()
paths = [os.path.relpath(p, root) for p, _ in mentions] + [new.decode() + ".md"]
subprocess.run(["git", "add", "-A", "--", *paths], cwd=root, check=True)
subprocess.run(["git", "commit", "-q", "-m", "floor"], cwd=root, check=True)
committed = time.perf_counter()
print(json.dumps({"read + prefilter": read - start, "write": written - read, "commit": committed - written}))
"""

# The floor: walk the vault like vaulttools does (dot-folders skipped) and read every note's bytes.
FLOOR_CODE = """
import os, sys
total = 0
for folder, dirs, files in os.walk(sys.argv[1]):
    dirs[:] = [d for d in dirs if not d.startswith(".")]
    for name in files:
        if name.endswith(".md"):
            with open(os.path.join(folder, name), "rb") as handle:
                total += len(handle.read())
print(total)
"""


@dataclass(frozen=True)
class Bench:
    """One timed row: how to prepare the vault before each run, and the command line."""

    name: str
    args: tuple[str, ...]
    goal: float | None  # ratio to the floor the issue asks for (None: no goal, reported only)
    writes: bool = False
    # none | fresh-cache | reset | reset-new-objects | reset-and-rename | reset-and-rename-map |
    # reset-and-kill | reset-duplicates
    prepare: str = "none"
    requires: str | None = None  # the vaulttools subcommand that must exist
    # The profiles whose vault the goal was set for (empty: every profile); on the others the row is
    # measured and printed with its work, against no goal (see `goal_on`).
    goal_profiles: tuple[str, ...] = ()


@dataclass
class Measure:
    name: str
    seconds: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    goal: float | None = None
    note: str = ""  # why it was skipped or failed
    work: str = ""  # what a writing row's last run committed (`committed_work`)

    @property
    def median(self) -> float | None:
        return median(self.seconds)

    @property
    def peak_rss(self) -> float | None:
        return max(self.rss_mb) if self.rss_mb else None


@dataclass
class Phase:
    """One phase of rename: vaulttools' seconds and the floor's, medians over the runs."""

    name: str
    seconds: list[float] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)


def benches(enrich_file: Path, tag: str = "") -> list[Bench]:
    """Every row; `tag`: the tag `tag-rename` renames (see `pick_tag`)."""
    return [
        Bench("check-fresh", ("check", "--json"), 5.0, prepare="fresh-cache", requires="check"),
        Bench("check-warm", ("check", "--json"), 2.0, requires="check"),
        Bench("rename", ("rename", HUB, HUB_NEW), 5.0, writes=True, prepare="reset", requires="rename"),
        Bench("normalize-links", ("normalize-links",), 6.0, True, "reset", "normalize-links"),
        # The same batch where git lacks the new bytes, as on a user's first run (the row above runs after
        # a warm-up run made them, as after an `undo`): storing them is part of the work.
        Bench("normalize-first", ("normalize-links",), None, True, "reset-new-objects", "normalize-links"),
        Bench("sync-related", ("sync-related",), 25.0, True, "reset", "sync-related"),
        Bench("enrich", ("enrich", str(enrich_file)), None, True, "reset", "enrich"),
        Bench("tag-rename", ("tag", "rename", tag or "-", TAG_NEW), 5.0, True, "reset", "tag"),
        Bench("undo", ("undo",), None, True, "reset-and-rename", "undo"),
        # A big rename's undo: git's exhaustive rename detection compared every pair of its files.
        Bench("undo-map", ("undo",), None, True, "reset-and-rename-map", "undo"),
        Bench("recover", ("recover",), None, True, "reset-and-kill", "recover"),
        # Issue 19 set the goal for `merge --all` on the generated vault (article), where 1 % of the notes
        # have a copy and ~650 files change, as on long. On dense and deep, whose long day-suffix families
        # make 5,000 or 2,200 copies, it rewrites or deletes nearly every note: another job, measured with
        # its work, against no goal. On folders, the folder notes share a name and an id but are namesakes
        # in different folders, no family: the copies are the 1 % of article's; crlf and code are article's
        # notes written otherwise.
        Bench(
            "merge-all",
            ("merge", "--all"),
            10.0,
            True,
            "reset-duplicates",
            "merge",
            ("article", "long", "folders", "crlf", "code"),
        ),
    ]


# --- pure helpers (tested in tests/test_bench.py) -------------------------------------------------------


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def ratio(seconds: float | None, floor: float | None) -> float | None:
    if seconds is None or not floor:
        return None
    return seconds / floor


def goal_on(bench: Bench, profile: str) -> float | None:
    """The row's goal on a profile's vault: None where the goal was not set for that vault's shape."""
    if bench.goal_profiles and profile not in bench.goal_profiles:
        return None
    return bench.goal


def format_goal_scope(rows: Sequence[Bench], profile: str) -> str:
    """One line naming the measured rows whose goal holds on other profiles only, so a `-` in the goal
    column is not read as a goal nobody set."""
    scoped = [
        f"{bench.name} (<= {bench.goal:g}x on {', '.join(bench.goal_profiles)})"
        for bench in rows
        if bench.goal is not None and goal_on(bench, profile) is None
    ]
    return "no goal on this profile's vault: " + "; ".join(scoped) if scoped else ""


def verdict(measure: Measure, floor: float | None, notes: int) -> str:
    """pass/FAIL against the ratio goal, and on 100,000 notes against the 1 GB RSS ceiling too."""
    if measure.note:
        return "-"
    failed = []
    value = ratio(measure.median, floor)
    if measure.goal is not None and value is not None and value > measure.goal:
        failed.append("time")
    if notes >= 100_000 and (measure.peak_rss or 0) >= RSS_LIMIT_MB:
        failed.append("rss")
    if failed:
        return "FAIL (" + ", ".join(failed) + ")"
    return "pass" if measure.goal is not None or notes >= 100_000 else "-"


def committed_work(name_status: str) -> str:
    """What a commit changed, from `git diff --name-status` (`M`odified, `A`dded, `D`eleted): the work a
    writing row's ratio stands for ("12729 rewritten", "15010 rewritten, 5033 deleted"; "" for nothing)."""
    counts = Counter(line.split("\t", 1)[0][:1] for line in name_status.splitlines() if line.strip())
    words = (("M", "rewritten"), ("A", "added"), ("D", "deleted"))
    return ", ".join(f"{counts[letter]} {word}" for letter, word in words if counts[letter])


def format_work(measures: Sequence[Measure]) -> str:
    """One line: the files each writing row's last run committed, so that a ratio can be read against its
    work (normalize-links rewrites 64 % of the dense vault; merge --all there rewrites or deletes all of it)."""
    done = [f"{m.name} {m.work}" for m in measures if m.work]
    return "files committed by the last run of each writing row: " + "; ".join(done) if done else ""


def format_table(measures: Sequence[Measure], floor: float | None, notes: int) -> str:
    """A Markdown table, so the output can be pasted into the CHANGELOG as it is."""
    header = ("command", "seconds", "x floor", "peak RSS MB", "goal", "result")
    rows = [header]
    for m in measures:
        seconds = m.median
        value = ratio(seconds, floor)
        rows.append(
            (
                m.name,
                "-" if seconds is None else f"{seconds:.2f}",
                "-" if value is None else f"{value:.1f}",
                "-" if m.peak_rss is None else f"{m.peak_rss:.0f}",
                "-" if m.goal is None else f"<= {m.goal:g}x",
                verdict(m, floor, notes) + (f" {m.note}" if m.note else ""),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) + " |" for row in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def format_phases(phases: Sequence[Phase], changed: int) -> str:
    """The rename phases next to the floor's, as a Markdown table; `-` where one side has no such phase."""
    header = ("rename phase", "seconds", "floor seconds", "x phase floor")
    rows = [header]
    for phase in phases:
        seconds, floor = median(phase.seconds), median(phase.floor)
        value = ratio(seconds, floor)
        rows.append(
            (
                phase.name,
                "-" if seconds is None else f"{seconds:.3f}",
                "-" if floor is None else f"{floor:.3f}",
                "-" if value is None else f"{value:.1f}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) + " |" for row in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return f"rename of {HUB}: {changed} files changed\n" + "\n".join(lines)


def enrichment_lines(slugs: Sequence[str], count: int = ENRICH_NOTES) -> list[str]:
    """JSON Lines for `enrich`: `count` notes spread evenly over the sorted slugs."""
    chosen = sorted(slugs)[:: max(1, len(slugs) // count)][:count]
    return [
        json.dumps(
            {
                "slug": slug,
                "context": f"Benchmark context for {slug}, consistent with the literature.",
                "counterpoint": "the benchmark sample is synthetic.",
            }
        )
        for slug in chosen
    ]


def pick_tag(counts: dict[str, int], notes: int, share: float = TAG_SHARE) -> str:
    """The tag whose note count is closest to `share` of `notes` (ties: the first by name)."""
    if not counts:
        return ""
    return min(sorted(counts), key=lambda tag: abs(counts[tag] - share * notes))


def frontmatter_tag_counts(vault: Path) -> dict[str, int]:
    """Notes per tag of the generated vault's one-line `tags: ["a", "b"]` lists."""
    counts: dict[str, int] = {}
    for path in vault.rglob("*.md"):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines()[:12]:
            if line.startswith("tags: ["):
                for tag in json.loads(line[len("tags: ") :]):
                    counts[tag] = counts.get(tag, 0) + 1
                break
    return counts


# --- processes ------------------------------------------------------------------------------------------


def timed(command: Sequence[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, float, int]:
    """(seconds, peak RSS MB of the process and its workers, exit code) of one process."""
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss_file:
        if TIME_BINARY is not None:
            # /usr/bin/time (a small C program) reports its child's high-water mark, which a fork from this
            # ~30 MB runner would otherwise inherit; its own start-up adds about a millisecond.
            command = [TIME_BINARY, "-q", "-f", "%M", "-o", rss_file.name, *command]
        start = time.perf_counter()
        process = subprocess.Popen(
            command,
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=None if env is None else {**os.environ, **env},
        )
        _, stderr = process.communicate()
        seconds = time.perf_counter() - start
        peak_kb = _peak_kb(rss_file.read()) if TIME_BINARY is not None else None
    if peak_kb is None:
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # an upper bound: all children
    if process.returncode not in (0, 1) and not env:
        sys.stderr.write(stderr.decode("utf-8", "replace")[-2000:])
    return seconds, peak_kb / 1024, process.returncode


def _peak_kb(time_output: str) -> int | None:
    """The last line of `/usr/bin/time -f %M` output (KiB); earlier lines may be its status notes."""
    lines = time_output.strip().splitlines()
    return int(lines[-1]) if lines and lines[-1].strip().isdigit() else None


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def vaulttools(*args: str) -> list[str]:
    return [sys.executable, "-m", "vaulttools", "-q", *args]


def available_commands() -> set[str]:
    from vaulttools.cli import command_names  # the same interpreter, so the same installed vaulttools

    return set(command_names())


# --- the vault ------------------------------------------------------------------------------------------


def vault_name(profile: str, notes: int, seed: int) -> str:
    """The folder of a profile's vault; the article one keeps the name it had before profiles existed."""
    return f"vault-{notes}-s{seed}" if profile == "article" else f"vault-{profile}-{notes}-s{seed}"


def prepare_vault(notes: int, seed: int, out: Path, profile: str = "article") -> Path:
    """The benchmark vault as a git repository at tag bench-base, generated on first use."""
    vault = out / vault_name(profile, notes, seed)
    if (vault / ".git").is_dir() and _has_tag(vault):
        reset(vault)
        return vault
    if vault.exists():
        shutil.rmtree(vault)
    print(f"generating {notes} notes into {vault} ...", flush=True)
    subprocess.run(
        [
            sys.executable,
            str(HERE / "generate.py"),
            str(vault),
            *("--notes", str(notes), "--seed", str(seed), "--profile", profile),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    git(vault, "init", "-q")
    git(vault, "config", "user.name", "bench")
    git(vault, "config", "user.email", "bench@localhost")
    git(vault, "config", "gc.auto", "0")  # no surprise `git gc` in the middle of a timed run
    git(vault, "add", "-A")
    git(vault, "commit", "-q", "-m", "benchmark vault")
    git(vault, "tag", BASE_TAG)
    return vault


def _has_tag(vault: Path, tag: str = BASE_TAG) -> bool:
    try:
        git(vault, "rev-parse", "-q", "--verify", f"refs/tags/{tag}")
    except subprocess.CalledProcessError:
        return False
    return True


def reset(vault: Path) -> None:
    """Back to the generated vault; `.vaulttools/` (git-ignored) is kept, so the cache survives."""
    git(vault, "reset", "--hard", "-q", BASE_TAG)
    git(vault, "clean", "-fdq")


def forget_new_objects(vault: Path) -> None:
    """Drop every object the earlier runs made (their commits are unreachable once reset): git then lacks
    the new bytes of the next batch, as on a first run. Slow (a `gc` of the whole repository), untimed."""
    git(vault, "reflog", "expire", "--expire=now", "--all")
    git(vault, "gc", "-q", "--prune=now")


def duplicate_note(text: str, stem: str, copy_stem: str) -> str:
    """A day-suffixed copy of a generated note: its own id, one paragraph of its own, the rest repeated."""
    text = text.replace(f'id: "{stem}"', f'id: "{copy_stem}"', 1)
    return text.replace("\n---\n", f"\n---\nA paragraph only the copy {copy_stem} has.\n\n", 1)


def rename_map_rows(note_paths: Sequence[str], every: int = RENAME_MAP_EVERY) -> list[tuple[str, str]]:
    """(old, new) rows of `undo-map`'s rename map: every `every`th note (sorted vault paths, the hub left
    out), named by its vault path without `.md` (a vault of folders repeats names), renamed in its folder."""
    kept = [
        path for path in sorted(note_paths) if path.endswith(".md") and path[:-3].rpartition("/")[2] != HUB
    ]
    return [(path[:-3], path[:-3].rpartition("/")[2] + "-renamed") for path in kept[::every]]


def write_rename_map(vault: Path) -> Path:
    """The rename map of `rename_map_rows`, as CSV beside the vault (outside it: git never sees it)."""
    import csv

    paths = [path.relative_to(vault).as_posix() for path in vault_notes(vault)]
    mapping = vault.parent / f"{vault.name}-rename-map.csv"
    with open(mapping, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["old", "new"])
        writer.writerows(rename_map_rows(paths))
    return mapping


def vault_notes(vault: Path) -> list[Path]:
    """The vault's notes in path order, skipping dot-folders (`.git`, `.vaulttools`)."""
    notes = [
        path
        for path in vault.rglob("*.md")
        if not any(p.startswith(".") for p in path.relative_to(vault).parts)
    ]
    return sorted(notes, key=lambda path: path.relative_to(vault).as_posix())


def add_duplicates(vault: Path) -> None:
    """Tag `bench-duplicates`: every 100th note gets a `-d99` copy, and the next note a link to the copy."""
    if _has_tag(vault, DUPLICATES_TAG):
        return
    reset(vault)
    notes = vault_notes(vault)  # every folder: the deep profile keeps its notes five levels down
    for number in range(0, len(notes) - 1, DUPLICATE_EVERY):
        original, neighbour = notes[number], notes[number + 1]
        copy_stem = f"{original.stem}-d99"
        text = original.read_text(encoding="utf-8")
        original.with_name(f"{copy_stem}.md").write_text(
            duplicate_note(text, original.stem, copy_stem), encoding="utf-8"
        )
        with neighbour.open("a", encoding="utf-8") as handle:
            handle.write(f"\nSee also [[{copy_stem}]].\n")
    git(vault, "add", "-A")
    git(vault, "commit", "-q", "-m", "day-suffixed duplicates")
    git(vault, "tag", DUPLICATES_TAG)
    git(vault, "reset", "--hard", "-q", BASE_TAG)


def drop_cache(vault: Path) -> None:
    shutil.rmtree(vault / ".vaulttools", ignore_errors=True)


def write_enrich_file(vault: Path, out: Path) -> Path:
    stems = Counter(path.stem for path in vault_notes(vault))
    slugs = [stem for stem, count in stems.items() if count == 1]  # a name two notes share is ambiguous
    target = out / f"enrich-{vault.name}.jsonl"
    target.write_text("\n".join(enrichment_lines(slugs)) + "\n", encoding="utf-8")
    return target


# --- running --------------------------------------------------------------------------------------------


# vaulttools.batch's fault hook: SIGKILL the batch at a point (`start`, or after its Nth file write).
CRASH_AFTER_ENV = "VAULTTOOLS_TEST_CRASH_AFTER"
KILLED_BATCH = ("normalize-links",)


def kill_point(vault: Path) -> int:
    """Where `recover`'s batch is killed: after writing a quarter as many files as the vault has notes."""
    return max(1, sum(1 for _ in vault.rglob("*.md")) // 4)


def killed_batch(vault: Path, point: str, command: Sequence[str] = KILLED_BATCH) -> float:
    """Run `command` (a batch) until the fault hook kills it at `point`; its seconds."""
    seconds, _, code = timed(vaulttools(*command), vault, env={CRASH_AFTER_ENV: point})
    if code not in (-9, 128 + 9):  # killed: the signal itself, or as /usr/bin/time reports it
        raise RuntimeError(f"{' '.join(command)} was not killed at {point} (exit {code})")
    return seconds


def run_write_phase(vault: Path, runs: int) -> Measure:
    """The batch's whole write phase: killed after its commit, less the same batch killed before its journal."""
    measure = Measure(f"{' '.join(KILLED_BATCH)} write phase")
    for attempt in range(runs + 1):
        phases = []
        for where in ("start", "commit"):
            drop_journal(vault)  # the previous kill's: the vault is reset under it
            reset(vault)
            subprocess.run(vaulttools("check", "--json"), cwd=vault, stdout=subprocess.DEVNULL, check=False)
            phases.append(killed_batch(vault, where))
        if attempt > 0:
            measure.seconds.append(phases[1] - phases[0])
    reset(vault)
    drop_journal(vault)
    return measure


def rename_phases(vault: Path, runs: int) -> tuple[list[Phase], int]:
    """Rename's phases, from whole runs cut short by the batch's fault hook, and the floor's, in one run.

    plan = killed at `start` (start-up, index, prefilter and planning; nothing written), of which start-up is
    `vaulttools --version`; write = killed right after the last file write, less plan (the journal, `git
    status` and every write); commit = killed right after the commit, less write. The floor's phases come
    from RENAME_FLOOR_CODE; its total is that whole process."""
    changed = _files_a_rename_changes(vault)
    names = ("start-up", "plan: index + prefilter + planning", "write", "commit", "total")
    phases = {name: Phase(name) for name in names}
    for attempt in range(runs + 1):
        startup, _, _ = timed([sys.executable, "-m", "vaulttools", "--version"], vault)
        cut = {}
        for where in ("start", str(changed), "commit"):
            _reset_for_rename(vault)
            cut[where] = killed_batch(vault, where, ("rename", HUB, HUB_NEW))
        reset(vault)
        drop_journal(vault)
        floor_seconds, floor_phases = _rename_floor(vault)
        reset(vault)
        if attempt == 0:
            continue
        ours = {
            "start-up": startup,
            "plan: index + prefilter + planning": cut["start"] - startup,
            "write": cut[str(changed)] - cut["start"],
            "commit": cut["commit"] - cut[str(changed)],
            "total": cut["commit"],
        }
        floors = {
            "plan: index + prefilter + planning": floor_phases["read + prefilter"],
            "total": floor_seconds,
        }
        floors |= {"write": floor_phases["write"], "commit": floor_phases["commit"]}
        for name, phase in phases.items():
            phase.seconds.append(ours[name])
            if name in floors:
                phase.floor.append(floors[name])
    return list(phases.values()), changed


def _reset_for_rename(vault: Path) -> None:
    drop_journal(vault)
    reset(vault)
    subprocess.run(vaulttools("check", "--json"), cwd=vault, stdout=subprocess.DEVNULL, check=False)


def _files_a_rename_changes(vault: Path) -> int:
    """How many files the hub's rename writes (the renamed note counts once)."""
    _reset_for_rename(vault)
    subprocess.run(vaulttools("rename", HUB, HUB_NEW), cwd=vault, check=True, capture_output=True)
    changed = len(git(vault, "diff", "--name-status", "-M", BASE_TAG, "HEAD").splitlines())
    reset(vault)
    return changed


def _rename_floor(vault: Path) -> tuple[float, dict[str, float]]:
    start = time.perf_counter()
    output = subprocess.run(
        [sys.executable, "-c", RENAME_FLOOR_CODE, str(vault), HUB, HUB_NEW],
        cwd=vault,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return time.perf_counter() - start, json.loads(output)


def drop_journal(vault: Path) -> None:
    shutil.rmtree(vault / ".vaulttools" / "journal", ignore_errors=True)


def preparation(bench: Bench, vault: Path) -> Callable[[], None]:
    def warm_cache() -> None:
        subprocess.run(vaulttools("check", "--json"), cwd=vault, stdout=subprocess.DEVNULL, check=False)

    def prepare() -> None:
        if bench.prepare == "fresh-cache":
            drop_cache(vault)
        elif bench.prepare in ("reset", "reset-and-rename", "reset-and-rename-map", "reset-new-objects"):
            reset(vault)
            if bench.prepare == "reset-new-objects":
                forget_new_objects(vault)
            warm_cache()
            if bench.prepare == "reset-and-rename":
                subprocess.run(vaulttools("rename", HUB, HUB_NEW), cwd=vault, check=True, capture_output=True)
            if bench.prepare == "reset-and-rename-map":
                mapping = write_rename_map(vault)
                subprocess.run(
                    vaulttools("rename", "--map", str(mapping)), cwd=vault, check=True, capture_output=True
                )
        elif bench.prepare == "reset-and-kill":
            drop_journal(vault)
            reset(vault)
            warm_cache()
            killed_batch(vault, str(kill_point(vault)))
        elif bench.prepare == "reset-duplicates":
            add_duplicates(vault)
            git(vault, "reset", "--hard", "-q", DUPLICATES_TAG)
            git(vault, "clean", "-fdq")
            warm_cache()
        # The reset's writes go to disk now, untimed: a batch syncs before it returns, and would otherwise
        # pay for writing out the thousands of notes the reset just rewrote as well as its own.
        if hasattr(os, "sync"):
            os.sync()

    return prepare


def run_bench(bench: Bench, vault: Path, runs: int, goal: float | None) -> Measure:
    measure = Measure(bench.name, goal=goal)
    prepare = preparation(bench, vault)
    for attempt in range(runs + 1):  # attempt 0 warms the page cache and is not counted
        prepare()
        before = git(vault, "rev-parse", "HEAD") if bench.writes else ""
        seconds, rss, code = timed(vaulttools(*bench.args), vault)
        if code not in (0, 1):  # check exits 1 when it finds problems, which the synthetic vault has
            measure.note = f"(exit {code})"
            break
        if attempt > 0:
            measure.seconds.append(seconds)
            measure.rss_mb.append(rss)
        if bench.writes and attempt == runs:
            measure.work = committed_work(git(vault, "diff", "--name-status", "--no-renames", before, "HEAD"))
    if bench.writes:
        reset(vault)
    return measure


FLOOR_READS = 3  # at least, each time the floor is read: one read moved by ±30 % on a quiet machine


def run_floor(vault: Path, runs: int, measure: Measure | None = None) -> Measure:
    """Reads the floor `max(runs, FLOOR_READS)` times (after a warm-up), adding to `measure` if given: the
    floor is read before and after a profile's rows and its median taken over both, so a floor read in a
    quiet or a busy minute does not decide every ratio of the table."""
    measure = measure or Measure("floor: read every note")
    for attempt in range(max(runs, FLOOR_READS) + 1):
        seconds, rss, _ = timed([sys.executable, "-c", FLOOR_CODE, str(vault)], vault)
        if attempt > 0:
            measure.seconds.append(seconds)
            measure.rss_mb.append(rss)
    return measure


def run_grep(vault: Path, runs: int) -> Measure:
    measure = Measure(f"grep -rlF {HUB}")
    grep = shutil.which("grep")
    if grep is None:
        measure.note = "(no grep)"
        return measure
    command = [grep, "-rlF", "--exclude-dir=.git", "--exclude-dir=.vaulttools", HUB, "."]
    for attempt in range(runs + 1):
        seconds, rss, _ = timed(command, vault)
        if attempt > 0:
            measure.seconds.append(seconds)
            measure.rss_mb.append(rss)
    return measure


# The machine's own speed, beside each profile's table: fixed pure-Python probes timed in one process, then in
# two at once (the commands run on both cores). The floor reads files in one process and barely moves when the
# host is busy; the commands' work on both cores does (whole runs 15-40 % slower within an hour while the floor
# held): these say which kind of hour a table was measured in. `CPU_LOOP` is arithmetic only; `MEMORY_LOOP`
# makes ~40 MB of small objects and hashes them, as the commands do (a VM hands out fresh memory slowly when
# its host is busy: `sync-related` was ~30 % slower than usual in a run where the CPU loop was not).
CPU_LOOP = """
import time
start = time.perf_counter()
total = 0
for number in range(2_000_000):
    total += number * number % 7
print(time.perf_counter() - start)
"""
MEMORY_LOOP = """
import time
start = time.perf_counter()
words = [f"note-{number}" for number in range(400_000)]
index = dict.fromkeys(words, 0)
total = sum(index[word] for word in words)
print(time.perf_counter() - start)
"""
PROBE_RUNS = 3


@dataclass
class MachineProbe:
    """Seconds of one probe (`code`): in one process alone, and the slower of two run at once (each check's)."""

    label: str = "a fixed Python loop"
    code: str = CPU_LOOP
    alone: list[float] = field(default_factory=list)
    together: list[float] = field(default_factory=list)


def machine_probes() -> list[MachineProbe]:
    return [MachineProbe(), MachineProbe("40 MB of small objects made and hashed", MEMORY_LOOP)]


def run_probe(probe: MachineProbe) -> MachineProbe:
    command = [sys.executable, "-c", probe.code]
    for _ in range(PROBE_RUNS):
        probe.alone.append(float(subprocess.run(command, capture_output=True, text=True, check=True).stdout))
        pair = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(2)]
        probe.together.append(max(float(process.communicate()[0]) for process in pair))
    return probe


def format_probe(probe: MachineProbe) -> str:
    """One line: the probe's median seconds alone and two at once, and how much slower two at once ran."""
    alone, together = median(probe.alone), median(probe.together)
    if alone is None or together is None:
        return ""
    return (
        f"machine: {probe.label} {alone:.3f} s alone, {together:.3f} s two at once "
        f"({together / alone:.2f}x; medians of {len(probe.alone)}, before and after the rows)"
    )


PHASES_ROW = "rename-phases"  # an --only name: the phases of rename against its floor


def parse_profiles(text: str, known: Sequence[str]) -> list[str]:
    """`--profile` as a list: comma-separated names of bench/generate.py profiles, or `all`."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if names == ["all"]:
        return list(known)
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise ValueError(f"unknown --profile {unknown or text!r}; choose from {', '.join(known)} or all")
    return list(dict.fromkeys(names))


def run_profile(profile: str, args: argparse.Namespace, wanted: set[str]) -> dict[str, object]:
    """Every wanted row on one profile's vault; prints its tables; the measurements for --json."""
    vault = prepare_vault(args.notes, args.seed, args.out, profile)
    enrich_file = write_enrich_file(vault, args.out)
    tag = pick_tag(frontmatter_tag_counts(vault), args.notes)
    commands = available_commands()
    load = os.getloadavg()[0]
    print(
        f"\nprofile {profile}: {vault} ({args.notes} notes), {args.runs} runs, load average {load:.2f}",
        flush=True,
    )
    machine = [run_probe(probe) for probe in machine_probes()]
    floor = run_floor(vault, args.runs)
    measures = [floor, run_grep(vault, args.runs)]
    rows = [bench for bench in benches(enrich_file, tag) if not wanted or bench.name in wanted]
    for bench in rows:
        goal = goal_on(bench, profile)
        if bench.requires not in commands:
            measures.append(Measure(bench.name, goal=goal, note=f"(skipped: no `{bench.requires}`)"))
            continue
        print(f"  {bench.name} ...", flush=True)
        measures.append(run_bench(bench, vault, args.runs, goal))
        if bench.name == "recover":
            measures.append(run_write_phase(vault, args.runs))
    run_floor(vault, args.runs, floor)  # again after the rows: the median spans the whole profile's run
    for probe in machine:
        run_probe(probe)
    print(format_table(measures, floor.median, args.notes), flush=True)  # before the phases, which may fail
    lines = [format_work(measures), format_goal_scope(rows, profile), *map(format_probe, machine)]
    for line in lines:
        if line:
            print(line, flush=True)
    phases: list[Phase] = []
    if not wanted or PHASES_ROW in wanted:
        print(f"  {PHASES_ROW} ...", flush=True)
        try:
            phases, changed = rename_phases(vault, args.runs)
            print(format_phases(phases, changed))
        except (RuntimeError, subprocess.CalledProcessError) as exc:
            reset(vault)
            print(f"rename phases not measured: {exc}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return {
        "profile": profile,
        "notes": args.notes,
        "floor": floor.median,
        "load": load,
        "machine": [{"label": c.label, "alone": c.alone, "together": c.together} for c in machine],
        "rows": [m.__dict__ | {"median": m.median} for m in measures],
        "rename_phases": [p.__dict__ | {"median": median(p.seconds)} for p in phases],
    }


def with_bytecode() -> None:
    """Let the timed processes use compiled bytecode, as an installed vaulttools does (pip compiles it).

    With PYTHONDONTWRITEBYTECODE set (some shells and sandboxes set it) and no `__pycache__` yet, every
    process compiled vaulttools' sources afresh: ~0.3 s of each command's time, more than the floor of a
    20,000-note vault. The commands' processes inherit the environment without it, and the package is
    compiled once here (into `vaulttools/__pycache__`, which git ignores)."""
    import compileall

    import vaulttools

    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    compileall.compile_dir(Path(vaulttools.__file__).parent, quiet=2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notes", type=int, default=20000, help="vault size (1000, 20000, 100000)")
    parser.add_argument(
        "--profile", default="article", help="vault shape(s): article,dense,deep,long,folders or all"
    )
    parser.add_argument("--runs", type=int, default=3, help="timed runs per command (median; at least 3)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", default="", help="comma-separated row names, e.g. check-warm,rename")
    parser.add_argument("--out", type=Path, default=OUT, help="where vaults are cached (default bench/out)")
    parser.add_argument("--json", type=Path, help="also write the measurements to this file")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    try:
        profiles = parse_profiles(args.profile, PROFILE_NAMES)
    except ValueError as exc:
        parser.error(str(exc))
    wanted = {name.strip() for name in args.only.split(",") if name.strip()}
    known = {b.name for b in benches(Path("enrich.jsonl"))} | {PHASES_ROW}
    if wanted - known:
        parser.error(f"unknown --only name(s) {sorted(wanted - known)}; choose from {sorted(known)}")
    args.out.mkdir(parents=True, exist_ok=True)
    with_bytecode()
    results = [run_profile(profile, args, wanted) for profile in profiles]
    if args.json:
        data = results[0] if len(results) == 1 else {"profiles": results}
        args.json.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
