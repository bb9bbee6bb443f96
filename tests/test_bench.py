"""The benchmark scripts work: the generator at N=50 and bench/run.py's pure helpers (nothing is timed)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import random
import sys
from pathlib import Path
from types import ModuleType

import pytest

from vaulttools.vault import Vault

BENCH = Path(__file__).resolve().parent.parent / "bench"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


run = load("run")
generate = load("generate")


@pytest.mark.parametrize(
    ("values", "expected"),
    [([], None), ([2.0], 2.0), ([3.0, 1.0, 2.0], 2.0), ([1.0, 2.0, 3.0, 10.0], 2.5)],
)
def test_median(values: list[float], expected: float | None) -> None:
    assert run.median(values) == expected


@pytest.mark.parametrize(
    ("seconds", "floor", "expected"),
    [(None, 1.0, None), (1.0, None, None), (1.0, 0.0, None), (3.0, 0.5, 6.0)],
)
def test_ratio(seconds: float | None, floor: float | None, expected: float | None) -> None:
    assert run.ratio(seconds, floor) == expected


@pytest.mark.parametrize(
    ("seconds", "rss", "goal", "notes", "note", "expected"),
    [
        ([1.0], [100.0], 5.0, 20000, "", "pass"),
        ([3.0], [100.0], 5.0, 20000, "", "FAIL (time)"),
        ([1.0], [100.0], None, 20000, "", "-"),  # no goal: reported only
        ([1.0], [2000.0], 5.0, 20000, "", "pass"),  # the RSS ceiling applies on 100,000 notes only
        ([1.0], [2000.0], None, 100000, "", "FAIL (rss)"),
        ([3.0], [2000.0], 5.0, 100000, "", "FAIL (time, rss)"),
        ([], [], 5.0, 20000, "(skipped: no `x`)", "-"),
    ],
)
def test_verdict(
    seconds: list[float], rss: list[float], goal: float | None, notes: int, note: str, expected: str
) -> None:
    measure = run.Measure("cmd", seconds, rss, goal, note)
    assert run.verdict(measure, 0.5, notes) == expected


def test_format_table_is_markdown_with_one_row_per_measure() -> None:
    measures = [
        run.Measure("floor: read every note", [0.5, 0.4, 0.6], [12.0]),
        run.Measure("check-warm", [0.9, 1.1, 1.0], [80.0, 90.0], 2.0),
        run.Measure("enrich", goal=None, note="(skipped: no `enrich`)"),
    ]
    assert run.format_table(measures, 0.5, 20000).splitlines() == [
        "| command                | seconds | x floor | peak RSS MB | goal  | result                   |",
        "|------------------------|---------|---------|-------------|-------|--------------------------|",
        "| floor: read every note | 0.50    | 1.0     | 12          | -     | -                        |",
        "| check-warm             | 1.00    | 2.0     | 90          | <= 2x | pass                     |",
        "| enrich                 | -       | -       | -           | -     | - (skipped: no `enrich`) |",
    ]


@pytest.mark.parametrize(
    ("name_status", "expected"),
    [
        ("", ""),  # no commit: nothing changed (recover puts files back without one)
        ("M\ta.md\nM\tb.md\n", "2 rewritten"),
        ("M\ta.md\nD\tb-d9.md\nD\tc-d2.md\nA\tnew folder/x.md\n", "1 rewritten, 1 added, 2 deleted"),
        ("D\ta.md", "1 deleted"),
    ],
)
def test_committed_work_counts_a_commits_files_by_what_happened_to_them(
    name_status: str, expected: str
) -> None:
    assert run.committed_work(name_status) == expected


def test_format_work_lists_the_writing_rows_only() -> None:
    measures = [
        run.Measure("check-fresh", [1.0]),
        run.Measure("normalize-links", [1.2], work="12729 rewritten"),
        run.Measure("merge-all", [5.6], work="15010 rewritten, 5033 deleted"),
    ]
    assert run.format_work(measures) == (
        "files committed by the last run of each writing row: normalize-links 12729 rewritten; "
        "merge-all 15010 rewritten, 5033 deleted"
    )
    assert run.format_work(measures[:1]) == ""


@pytest.mark.parametrize(
    ("counts", "notes", "expected"),
    [
        ({}, 100, ""),
        ({"a": 1, "b": 5, "c": 9}, 100, "b"),
        ({"x": 4, "w": 6}, 100, "w"),
        ({"a": 50}, 100, "a"),
    ],
)
def test_pick_tag_takes_the_tag_nearest_five_percent(counts: dict, notes: int, expected: str) -> None:
    assert run.pick_tag(counts, notes) == expected


@pytest.mark.parametrize(
    ("paths", "every", "expected"),
    [
        ([], 10, []),
        (["b.md", "a.md", "c.md"], 2, [("a", "a-renamed"), ("c", "c-renamed")]),
        # The hub stays (the other rows rename it); names repeated in folders are told apart by their path.
        (
            ["x/n.md", "concept-hub-note.md", "y/n.md", "img.png"],
            1,
            [("x/n", "n-renamed"), ("y/n", "n-renamed")],
        ),
    ],
)
def test_rename_map_rows_take_every_nth_note_by_its_path(
    paths: list[str], every: int, expected: list[tuple[str, str]]
) -> None:
    assert run.rename_map_rows(paths, every) == expected


def test_enrichment_lines_pick_spread_slugs_as_json_lines() -> None:
    slugs = [f"note-{i:03d}" for i in range(10)]
    lines = run.enrichment_lines(slugs, count=3)
    entries = [json.loads(line) for line in lines]
    assert [e["slug"] for e in entries] == ["note-000", "note-003", "note-006"]
    assert all(set(e) == {"slug", "context", "counterpoint"} and e["context"] for e in entries)


@pytest.mark.parametrize(
    ("goal_profiles", "profile", "expected"),
    [
        ((), "dense", 5.0),  # no scope: the goal holds on every profile
        (("article",), "article", 5.0),
        (("article",), "dense", None),
        (("article", "long"), "long", 5.0),
    ],
)
def test_goal_on_a_profile_follows_the_profiles_it_was_set_for(
    goal_profiles: tuple[str, ...], profile: str, expected: float | None
) -> None:
    bench = run.Bench("row", ("check",), 5.0, goal_profiles=goal_profiles)
    assert run.goal_on(bench, profile) == expected
    assert run.goal_on(run.Bench("row", ("check",), None, goal_profiles=goal_profiles), profile) is None


def test_format_goal_scope_names_the_rows_without_a_goal_here() -> None:
    rows = [
        run.Bench("check-fresh", ("check",), 5.0),
        run.Bench("enrich", ("enrich",), None),
        run.Bench("merge-all", ("merge", "--all"), 10.0, goal_profiles=("article",)),
    ]
    assert run.format_goal_scope(rows, "dense") == (
        "no goal on this profile's vault: merge-all (<= 10x on article)"
    )
    assert run.format_goal_scope(rows, "article") == ""
    assert run.format_goal_scope(rows[:2], "dense") == ""


def test_merge_all_keeps_issue_19s_goal_where_it_merges_one_copy_in_a_hundred() -> None:
    rows = {bench.name: bench for bench in run.benches(Path("enrich.jsonl"))}
    assert [run.goal_on(rows["merge-all"], p) for p in ("article", "long", "folders")] == [10.0, 10.0, 10.0]
    assert [run.goal_on(rows["merge-all"], p) for p in ("dense", "deep")] == [None, None]
    # every goal of issue 22 holds on every profile
    for name in ("check-fresh", "check-warm", "rename", "normalize-links", "sync-related", "tag-rename"):
        assert all(run.goal_on(rows[name], p) is not None for p in run.PROFILE_NAMES)


def test_every_row_names_a_registered_command() -> None:
    from vaulttools.cli import command_names

    for bench in run.benches(Path("enrich.jsonl")):
        assert bench.requires in command_names(), bench.name


def test_generator_is_deterministic_and_has_a_hub(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    counts = generate.generate(first, 50, 7)
    generate.generate(second, 50, 7)
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert counts["notes"] == 50 == len([f for f in files if f.suffix == ".md"])
    assert all((first / f).read_bytes() == (second / f).read_bytes() for f in files)
    hub = (first / f"{generate.HUB}.md").read_bytes()
    assert hub.startswith(b'---\nid: "concept-hub-note"\n')
    inbound = [f for f in files if f.suffix == ".md" and generate.HUB.encode() in (first / f).read_bytes()]
    assert len(inbound) >= 2  # the hub itself and at least one note linking to it


@pytest.mark.parametrize(("notes", "expected"), [(0, 1), (3, 1), (8, 2), (40, 10)])
def test_recover_row_kills_the_batch_after_a_quarter_of_the_notes(
    tmp_path: Path, notes: int, expected: int
) -> None:
    for i in range(notes):
        (tmp_path / f"n{i}.md").write_text("x")
    (tmp_path / "not-a-note.txt").write_text("x")
    assert run.kill_point(tmp_path) == expected


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("profile", sorted(generate.PROFILES))
def test_every_profile_generates_a_small_vault_deterministically(tmp_path: Path, profile: str) -> None:
    shape = generate.PROFILES[profile]
    generate.generate(tmp_path / "a", 60, 3, shape)
    generate.generate(tmp_path / "b", 60, 3, shape)
    first = _tree(tmp_path / "a")
    assert first == _tree(tmp_path / "b")
    assert len([name for name in first if name.endswith(".md")]) == 60  # no two notes share a path
    assert f"{generate.HUB}.md" in first


def _digest(root: Path) -> str:
    digest = hashlib.sha256()
    for name, data in _tree(root).items():
        digest.update(Path(name).as_posix().encode() + b"\0" + data + b"\0")
    return digest.hexdigest()[:16]


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        ("article", "8834b222f1de91ec"),
        ("dense", "7c945128d572cb06"),
        ("deep", "75b4cb51b73cd173"),
        ("long", "f2def6ed24c7690f"),
    ],
)
def test_earlier_profiles_write_the_bytes_they_always_wrote(
    tmp_path: Path, profile: str, expected: str
) -> None:
    """Digests of the 40-note vaults (seed 1) the generator wrote before the folders profile: a new switch
    must draw from the random generator only when it is on. Change them only with a deliberate change."""
    generate.generate(tmp_path, 40, 1, generate.PROFILES[profile])
    assert _digest(tmp_path) == expected


def _beside_article(tmp_path: Path, profile: str) -> tuple[dict[str, bytes], dict[str, bytes], list[str]]:
    """The files of the 40-note article vault and of the same vault in `profile`'s shape, and its notes."""
    generate.generate(tmp_path / "article", 40, 1, generate.PROFILES["article"])
    generate.generate(tmp_path / profile, 40, 1, generate.PROFILES[profile])
    article, other = _tree(tmp_path / "article"), _tree(tmp_path / profile)
    assert article.keys() == other.keys()
    return article, other, [name for name in article if name.endswith(".md")]


def test_crlf_profile_is_the_article_vault_with_windows_line_ends(tmp_path: Path) -> None:
    article, crlf, notes = _beside_article(tmp_path, "crlf")
    assert all(crlf[name] == article[name].replace(b"\n", b"\r\n") for name in notes)
    assert all(b"\r\n" in crlf[name] and b"\r\r" not in crlf[name] for name in notes)


def test_code_profile_is_the_article_vault_with_code_in_every_note(tmp_path: Path) -> None:
    article, code, notes = _beside_article(tmp_path, "code")
    lead, tail = generate.CODE_LEAD.encode(), generate.CODE_TAIL.encode()
    for name in notes:
        assert code[name].replace(lead, b"", 1) == article[name] + tail
        title = code[name].index(b"\n# ")
        assert code[name].index(lead) == code[name].index(b"\n\n", title) + 2  # the paragraph after the title
    note = Vault(tmp_path / "code").note(notes[0])
    opaque = [(link.target, link.opaque) for link in note.links if link.target.startswith("not-a-link")]
    assert opaque == [("not-a-link-either", "code"), ("not-a-link", "code")]


def test_folder_notes_do_not_combine_with_the_deep_folders() -> None:
    with pytest.raises(ValueError, match="folder_notes"):
        generate.Profile("both", folders=10, folder_notes="index")


@pytest.mark.parametrize(("notes", "seed"), [(2, 1), (3, 2), (60, 3), (400, 1)])
def test_every_folder_holds_one_folder_note_whose_id_is_its_stem(
    tmp_path: Path, notes: int, seed: int
) -> None:
    counts = generate.generate(tmp_path, notes, seed, generate.PROFILES["folders"])
    folders = [p for p in tmp_path.rglob("*") if p.is_dir() and not p.name.startswith(".")]
    index_notes = [p for p in tmp_path.rglob("*.md") if p.stem.lower() == "index"]
    assert counts["folder_notes"] == counts["folders"] == len(folders) == len(index_notes)
    assert all((folder / "index.md").is_file() for folder in folders)
    assert all(p.read_text().startswith('---\nid: "index"\n') for p in index_notes)
    assert len(list(tmp_path.rglob("*.md"))) == notes and (tmp_path / f"{generate.HUB}.md").is_file()
    assert all(1 <= len(p.relative_to(tmp_path).parts) <= 3 for p in folders)  # area/topic/part
    holding = [f for f in folders if any(p.stem != "index" for p in f.glob("*.md"))]
    if notes >= 400:  # ~10 notes a folder, the folder note included (the areas hold only theirs)
        assert 8 <= (notes - 1 - len(folders)) / len(holding) <= 11


def test_every_link_of_a_folders_vault_resolves_in_vaulttools_but_the_deliberate_ones(tmp_path: Path) -> None:
    """Links to folder notes reach the folder note they mean: bare `[[index]]` its own folder's (vaulttools
    prefers the linking note's folder), by path anywhere; only the dangling suffixed links and the links
    missing a suffix do not resolve, and nothing is ambiguous."""
    from vaulttools.resolve import RESOLVED
    from vaulttools.vault import Vault

    counts = generate.generate(tmp_path, 300, 1, generate.PROFILES["folders"])
    vault = Vault(tmp_path)
    unresolved, bare, by_path = [], 0, 0
    for path in vault.note_paths:
        for link in vault.note(path).links:
            if not link.is_link:
                continue
            answer = vault.index.resolve(link.target, path)
            if answer.status != RESOLVED:
                unresolved.append((path, link.target, answer.status))
            elif link.target == "index":
                bare += 1
                assert answer.path == f"{path.rpartition('/')[0]}/index.md", (path, link.target)
            elif link.target.endswith("/index"):
                by_path += 1
                assert answer.path == f"{link.target}.md", (path, link.target)
    assert bare == counts["bare_folder_note_links"]
    assert by_path == counts["path_folder_note_links"] + counts["folder_note_related_refs"]
    assert all(status == "broken" for _, _, status in unresolved)
    assert len(unresolved) == counts["dangling_suffixed_links"] + counts["missing_suffix_links"]


def test_article_profile_is_the_default_output(tmp_path: Path) -> None:
    generate.generate(tmp_path / "default", 80, 2)
    generate.generate(tmp_path / "article", 80, 2, generate.PROFILES["article"])
    assert _tree(tmp_path / "default") == _tree(tmp_path / "article")


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        ("article", {"folders": 0, "markdown_links": 0, "path_links": 0, "folder_notes": 0}),  # one folder
        (
            "deep",
            {"folders": lambda v: v > 20, "markdown_links": bool, "path_links": bool, "folder_notes": 0},
        ),
        (
            "folders",
            {
                "folders": lambda v: 25 < v < 40,  # ~10 notes a folder, and the areas above
                "folder_notes": lambda v: 25 < v < 40,
                "bare_folder_note_links": lambda v: v >= 250,  # one per note in a folder, at least
                "path_folder_note_links": lambda v: v > 100,
                "folder_note_related_refs": bool,
                "dangling_suffixed_links": bool,  # the article links stay: normalize-links has work
                "missing_suffix_links": bool,
                "markdown_links": 0,
            },
        ),
    ],
)
def test_profile_shapes(tmp_path: Path, profile: str, expected: dict[str, object]) -> None:
    counts = generate.generate(tmp_path, 300, 1, generate.PROFILES[profile])
    for key, want in expected.items():
        assert want(counts[key]) if callable(want) else counts[key] == want, key


def test_dense_profile_has_long_suffix_families_and_more_links(tmp_path: Path) -> None:
    counts = generate.generate(tmp_path, 400, 1, generate.PROFILES["dense"])
    assert counts["links"] >= 15 * 400
    days = [
        int(p.stem.rsplit("-d", 1)[1])
        for p in tmp_path.glob("*-d*.md")
        if p.stem.rsplit("-d", 1)[1].isdigit()
    ]
    assert max(days) > 12  # beyond the article profile's -d12
    bases = [p.stem.rsplit("-d", 1)[0] for p in tmp_path.glob("*-d*.md")]
    assert max(bases.count(b) for b in set(bases)) >= 5  # many notes per family


def test_long_profile_notes_are_about_30_kb(tmp_path: Path) -> None:
    counts = generate.generate(tmp_path, 40, 1, generate.PROFILES["long"])
    assert 20_000 < counts["bytes"] // counts["notes"] < 45_000
    related = (tmp_path / f"{generate.HUB}.md").read_text().split("related: [", 1)[1].split("]", 1)[0]
    assert related.count(",") >= 15  # a large frontmatter list


def test_runner_knows_every_generator_profile() -> None:
    assert tuple(run.PROFILE_NAMES) == tuple(generate.PROFILES)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("article", ["article"]),
        ("dense, deep,dense", ["dense", "deep"]),
        ("all", ["article", "dense", "deep", "long"]),
        ("wide", None),
        ("", None),
    ],
)
def test_parse_profiles(text: str, expected: list[str] | None) -> None:
    known = ("article", "dense", "deep", "long")
    if expected is None:
        with pytest.raises(ValueError, match="choose from"):
            run.parse_profiles(text, known)
    else:
        assert run.parse_profiles(text, known) == expected


@pytest.mark.parametrize(
    ("profile", "expected"),
    [("article", "vault-20000-s1"), ("dense", "vault-dense-20000-s1"), ("folders", "vault-folders-20000-s1")],
)
def test_vault_name_keeps_the_article_vault_where_it_was(profile: str, expected: str) -> None:
    assert run.vault_name(profile, 20000, 1) == expected


def test_format_phases_sets_each_phase_against_its_floor() -> None:
    phases = [
        run.Phase("start-up", [0.2, 0.3, 0.1]),
        run.Phase("write", [0.5, 0.4, 0.6], [0.1, 0.2, 0.3]),
    ]
    assert run.format_phases(phases, 42).splitlines() == [
        "rename of concept-hub-note: 42 files changed",
        "| rename phase | seconds | floor seconds | x phase floor |",
        "|--------------|---------|---------------|---------------|",
        "| start-up     | 0.200   | -             | -             |",
        "| write        | 0.500   | 0.200         | 2.5           |",
    ]


@pytest.mark.parametrize("topics", [1, 400, 2000])
def test_coined_topic_words_are_distinct_at_every_size(topics: int) -> None:
    """2,000 topics (100,000 notes) need more words than two or three syllables can make."""
    rng, coined, longest = random.Random(1), set(), generate.syllables_needed(topics)
    terms = [term for _ in range(topics) for term in generate.coin_terms(rng, coined, longest)]
    assert len(terms) == topics * generate.TOPIC_TERMS == len(set(terms))


def test_vault_notes_walks_folders_in_path_order_and_skips_dot_folders(tmp_path: Path) -> None:
    for name in ["b.md", "a/z.md", "a/b/c.md", ".git/x.md", "a/.vaulttools/y.md", "c.txt"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    assert [p.relative_to(tmp_path).as_posix() for p in run.vault_notes(tmp_path)] == [
        "a/b/c.md",
        "a/z.md",
        "b.md",
    ]


def test_duplicates_are_added_beside_their_original_in_a_deep_vault(tmp_path: Path) -> None:
    generate.generate(tmp_path, 300, 3, generate.PROFILES["deep"])
    run.git(tmp_path, "init", "-q")
    run.git(tmp_path, "add", "-A")
    run.git(tmp_path, "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "-m", "base")
    run.git(tmp_path, "tag", run.BASE_TAG)
    run.git(tmp_path, "config", "user.name", "b")
    run.git(tmp_path, "config", "user.email", "b@b")
    run.add_duplicates(tmp_path)
    added = run.git(tmp_path, "diff", "--name-status", run.BASE_TAG, run.DUPLICATES_TAG).splitlines()
    copies = [line.split("\t")[1] for line in added if line.startswith("A")]
    assert len(copies) == 3 and all(copy.count("/") == 5 and copy.endswith("-d99.md") for copy in copies)


def test_format_probe_gives_the_medians_and_how_much_slower_two_ran() -> None:
    check = run.MachineProbe(alone=[0.30, 0.20, 0.25], together=[0.30, 0.40, 0.35])
    line = run.format_probe(check)
    assert line.startswith("machine: a fixed Python loop 0.250 s alone, 0.350 s two at once (1.40x;")
    assert run.format_probe(run.MachineProbe()) == ""
    memory = run.machine_probes()[1]
    memory.alone, memory.together = [0.2], [0.3]
    assert run.format_probe(memory).startswith("machine: 40 MB of small objects made and hashed 0.200 s")


@pytest.mark.parametrize(("code", "count"), [("CPU_LOOP", "2_000_000"), ("MEMORY_LOOP", "400_000")])
def test_each_machine_probe_prints_its_seconds(code: str, count: str) -> None:
    import subprocess

    source = getattr(run, code)
    assert count in source
    seconds = float(
        subprocess.run(
            [sys.executable, "-c", source.replace(count, "1000")], capture_output=True, text=True, check=True
        ).stdout
    )
    assert 0 < seconds < 5


timeline = load("timeline")


@pytest.mark.parametrize(
    ("argv", "wraps", "command"),
    [
        (["check", "--json"], list(timeline.DEFAULT_WRAPS["check"]), ["check", "--json"]),
        (
            ["-C", "vault", "normalize-links"],
            list(timeline.DEFAULT_WRAPS["normalize-links"]),
            ["-C", "vault", "normalize-links"],
        ),
        (["--wrap", "a:b", "--", "check", "--json"], ["a:b"], ["check", "--json"]),
        (["--wrap", "a:b", "--wrap", "c:D.e", "tag", "list"], ["a:b", "c:D.e"], ["tag", "list"]),
        (["tag", "list"], [], ["tag", "list"]),  # no phases named for it: workers only
        (["--wrap=a:b", "check"], ["a:b"], ["check"]),
    ],
)
def test_timeline_reads_the_functions_to_wrap_and_the_command(argv: list, wraps: list, command: list) -> None:
    assert timeline.parse(argv) == (wraps, command)


@pytest.mark.parametrize("argv", [[], ["--help"], ["--wrap"], ["--wrap", "a:b"]])
def test_timeline_without_a_command_says_how_to_use_it(argv: list) -> None:
    with pytest.raises(SystemExit, match=r"timeline|--wrap needs"):
        timeline.parse(argv)


def test_every_default_timeline_function_still_exists() -> None:
    """A renamed function would leave the timeline without its phase: each default resolves to a callable."""
    for specs in timeline.DEFAULT_WRAPS.values():
        for spec in specs:
            _, _, function = timeline.resolve(spec)
            assert callable(function), spec


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nothing", "write module:function"),
        ("vaulttools.check:", "write module:function"),
        ("vaulttools.check:no_such_function", "not a function"),
        ("vaulttools.check:NoSuchClass.method", "not a function"),
        ("vaulttools.vault:Vault.index", "not a function"),  # a property, not a call
    ],
)
def test_timeline_refuses_what_it_cannot_wrap(spec: str, message: str) -> None:
    with pytest.raises(SystemExit, match=message):
        timeline.resolve(spec)


def test_a_wrapped_function_records_each_call_with_its_result_unchanged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from vaulttools import digests

    monkeypatch.setattr(digests, "blob_id", digests.blob_id)  # put back after the test
    line = timeline.Timeline()
    line.wrap("vaulttools.digests:blob_id")
    assert digests.blob_id(b"x") == hashlib.sha1(b"blob 1\0x").hexdigest()
    digests.blob_id(b"y")
    assert [call.name for call in line.calls] == ["vaulttools.digests:blob_id"] * 2
    assert all(0 <= call.start <= call.end and call.cpu >= 0 for call in line.calls)
    report = line.report().splitlines()
    assert report[0].split() == ["start", "end", "wall", "cpu", "function"]
    assert len(report) == 4 and report[-1].startswith("total ")


def test_timeline_runs_a_command_and_prints_its_phases(tmp_path: Path) -> None:
    import shutil
    import subprocess

    vault = tmp_path / "vault"
    shutil.copytree(Path(__file__).resolve().parent.parent / "vaulttools" / "sample_vault", vault)
    done = subprocess.run(
        [sys.executable, str(BENCH / "timeline.py"), "-C", str(vault), "check", "--json"],
        capture_output=True,
        text=True,
    )
    assert done.returncode in (0, 1), done.stderr  # 1: the sample vault has findings
    assert json.loads(done.stdout)  # the command's own output, untouched
    lines = done.stderr.splitlines()
    assert any(line.endswith("vaulttools.check:cached_entries") for line in lines)
    assert lines[-1].startswith("total ")


def test_timeline_accounts_each_forked_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`account_workers` leaves the workers' loop and its results as they are and has each worker write one
    line: its chunks, its work and what it sent."""
    from vaulttools import parallel

    for name in ("_serve", "_read_exactly", "_write_all"):
        monkeypatch.setattr(parallel, name, getattr(parallel, name))  # put back after the test
    monkeypatch.setattr(parallel, "PARALLEL_THRESHOLD", 0)
    monkeypatch.setattr(parallel, "MIN_CHUNK", 1)
    monkeypatch.setattr(parallel, "FORCED_JOBS", 2)
    log = tmp_path / "workers.log"
    with open(log, "a", encoding="utf-8") as out:
        timeline.account_workers(out)
        paths = [f"{n}.md" for n in range(40)]
        assert parallel.map_notes(lambda chunk: [path.upper() for path in chunk], paths) == [
            path.upper() for path in paths
        ]
    lines = log.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 and all(line.startswith("worker ") and "MB sent" in line for line in lines)
    chunks = sum(int(line.split(": ")[1].split(" chunks")[0]) for line in lines)
    assert chunks >= 2


ab = load("ab")
REPO = BENCH.parent


def test_ab_refuses_a_folder_without_vaulttools_and_a_core_it_cannot_use(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        ab.parse([str(tmp_path), str(REPO), str(tmp_path)])
    assert "holds no vaulttools package" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        ab.parse([str(REPO), str(REPO), str(tmp_path), "--rounds", "0"])
    assert "at least 1" in capsys.readouterr().err
    if hasattr(ab.os, "sched_getaffinity"):  # a core the process may not use
        with pytest.raises(SystemExit):
            ab.parse([str(REPO), str(REPO), str(tmp_path), "--cpu", "4096"])
        assert "--cpu 4096" in capsys.readouterr().err


def test_ab_summary_gives_microseconds_a_note_and_both_ratios() -> None:
    times = {"base": [0.4, 0.2, 0.3, 0.5], "new": [0.3, 0.3, 0.3, 0.3]}
    assert ab.summary(times, 1000) == [
        "base: fastest 200.0 µs a note, q1 300.0, median 350.0",
        "new: fastest 300.0 µs a note, q1 300.0, median 300.0",
        "new / base: fastest 1.500, median of the rounds 0.875",
    ]


def test_ab_compares_a_checkout_with_itself(tmp_path: Path) -> None:
    """Both sides run the same code on a small vault: every pass reports, and the ratios are near 1."""
    import subprocess

    for number in range(30):
        (tmp_path / f"n{number}.md").write_text(f"---\nid: n{number}\n---\n[[n{number + 1}]] [[gone]]\n")
    done = subprocess.run(
        [sys.executable, str(BENCH / "ab.py"), str(REPO), str(REPO), str(tmp_path), "--rounds", "3"],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"{tmp_path}: 30 notes a pass, 3 rounds, both sides on core ")
    assert lines[1].startswith("base: fastest ") and lines[2].startswith("new: fastest ")
    assert lines[3].startswith("new / base: fastest ")
