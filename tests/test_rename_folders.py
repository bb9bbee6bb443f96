"""`vaulttools rename` beyond notes: folders, attachments and canvases, and `check` on canvases."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import git, make_git_vault, snapshot
from vaulttools.batch import BatchOptions, run_batch
from vaulttools.errors import VaultError
from vaulttools.rename import new_attachment_path, new_folder_path, plan_renames
from vaulttools.vault import Vault

CANVAS = "humane-work.canvas"
RHYTHM = "concept-hybrid-rhythm.md"


def _head(vault: Path) -> str:
    return git(vault, "rev-parse", "HEAD").strip()


def test_folder_move_rewrites_path_links_and_canvas_and_undo_restores_the_folder(
    sample_vault: Path, run_cli
) -> None:
    before = snapshot(sample_vault)
    result = run_cli(sample_vault, "rename", "people", "team/contacts")
    assert result.exit_code == 0, result.output
    assert "renamed folder: people/ → team/contacts/ (3 files)" in result.output
    after = snapshot(sample_vault)
    for name in ("entity-amy-edmondson.md", "entity-jane-doe.md", "entity-kim-scott.md"):
        assert after[f"team/contacts/{name}"] == before[f"people/{name}"]  # moved, not a byte changed
    assert not (sample_vault / "people").exists()  # the emptied folder is gone, as in Obsidian
    expected = before["concept-ai-as-teammate.md"].replace(
        b"[[people/entity-jane-doe]]", b"[[team/contacts/entity-jane-doe]]"
    )
    assert after["concept-ai-as-teammate.md"] == expected
    canvas = before[CANVAS].replace(b'"file":"people/', b'"file":"team/contacts/')
    assert after[CANVAS] == canvas.replace(
        b"[[people/entity-kim-scott]]", b"[[team/contacts/entity-kim-scott]]"
    )
    # Bare names still reach the moved notes: left as they are.
    assert after["entity-radical-candor.md"] == before["entity-radical-candor.md"]
    changed = {path for path in after if after[path] != before.get(path)}
    assert changed == {"concept-ai-as-teammate.md", CANVAS} | {p for p in after if p.startswith("team/")}
    assert git(sample_vault, "status", "--porcelain") == ""

    assert run_cli(sample_vault, "undo").exit_code == 0
    assert snapshot(sample_vault) == before
    assert (sample_vault / "people").is_dir() and not (sample_vault / "team").exists()


def test_attachment_rename_updates_every_embed_and_the_canvas(sample_vault: Path, run_cli) -> None:
    before = snapshot(sample_vault)
    result = run_cli(sample_vault, "rename", "attachments/team-week.png", "hybrid-week")
    assert result.exit_code == 0, result.output
    assert "renamed: attachments/team-week.png → attachments/hybrid-week.png" in result.output
    after = snapshot(sample_vault)
    assert after["attachments/hybrid-week.png"] == before["attachments/team-week.png"]
    assert "attachments/team-week.png" not in after
    assert after[RHYTHM] == before[RHYTHM].replace(b"team-week.png", b"hybrid-week.png")
    assert b"![[hybrid-week.png|300]]" in after[RHYTHM]  # the size suffix stays
    assert after[CANVAS] == before[CANVAS].replace(b"team-week.png", b"hybrid-week.png")
    assert run_cli(sample_vault, "undo").exit_code == 0
    assert snapshot(sample_vault) == before


def test_an_attachment_named_without_its_folder_keeps_its_extension(sample_vault: Path, run_cli) -> None:
    result = run_cli(sample_vault, "rename", "diagram.png", "rhythm-diagram", "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["report"]["renames"] == [
        {"old": "assets/diagram.png", "new": "assets/rhythm-diagram.png"}
    ]
    assert document["report"]["rewritten_by_kind"] == {"embed": 1}


def test_a_canvas_follows_a_note_rename(sample_vault: Path, run_cli) -> None:
    before = snapshot(sample_vault)
    result = run_cli(sample_vault, "rename", "concept-humane-imperative", "concept-humane-core")
    assert result.exit_code == 0, result.output
    # The file node (its subpath kept) and the text node's wikilink (its display kept); nothing else.
    assert snapshot(sample_vault)[CANVAS] == before[CANVAS].replace(
        b'"file":"concept-humane-imperative.md","subpath":"#Why it matters"',
        b'"file":"concept-humane-core.md","subpath":"#Why it matters"',
    ).replace(b"[[concept-humane-imperative|", b"[[concept-humane-core|")


def test_a_move_keeps_path_links_that_still_reach_their_note(sample_vault: Path, run_cli) -> None:
    """`[[people/x]]` still means `team/people/x.md` (a path suffix): nothing to rewrite but the canvas's file
    nodes, which are full vault paths."""
    before = snapshot(sample_vault)
    result = run_cli(sample_vault, "rename", "people", "team/people")
    assert result.exit_code == 0, result.output
    after = snapshot(sample_vault)
    changed = {path for path in after if after[path] != before.get(path)}
    assert changed == {CANVAS} | {p for p in after if p.startswith("team/")}


def test_a_map_mixes_folders_notes_and_attachments(sample_vault: Path, tmp_path: Path, run_cli) -> None:
    mapping = tmp_path / "map.yaml"
    mapping.write_text(
        "people: team\nconcept-hybrid-rhythm: concept-hybrid-week\nattachments/team-week.png: week.png\n",
        encoding="utf-8",
    )
    result = run_cli(sample_vault, "rename", "--map", str(mapping))
    assert result.exit_code == 0, result.output
    files = snapshot(sample_vault)
    assert {"team/entity-jane-doe.md", "concept-hybrid-week.md", "attachments/week.png"} <= set(files)
    assert b'"file":"team/entity-jane-doe.md"' in files[CANVAS]
    assert b"[rhythm](concept-hybrid-week.md)" in files[CANVAS]
    assert b"![[week.png|300]]" in files["concept-hybrid-week.md"]
    subject = git(sample_vault, "log", "-1", "--format=%s").strip()
    assert subject == "vaulttools rename: 5 files renamed"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["people", "sources/"], "sources already exists"),
        (["people", "people/inner"], "into itself"),
        (["people", "../outside"], "leads outside the vault"),
        (["people", "peo:ple"], "cannot contain"),
        (["people", ".people"], "hidden"),
        (["attachments/team-week.png", "week.md"], "into a note"),
        (["attachments/team-week.png", "assets/diagram.png"], "already exists"),
        (["attachments/nothing.png", "x.png"], "no note or file at"),
        (["empty", "full"], "holds no notes or attachments"),
    ],
)
def test_refusals_change_nothing(sample_vault: Path, run_cli, args: list[str], message: str) -> None:
    (sample_vault / "empty").mkdir()
    before, head = snapshot(sample_vault), _head(sample_vault)
    result = run_cli(sample_vault, "rename", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert snapshot(sample_vault) == before and _head(sample_vault) == head


def test_uncommitted_changes_below_the_folder_are_refused(sample_vault: Path, run_cli) -> None:
    (sample_vault / "people" / "entity-kim-scott.md").write_bytes(b"edited\n")
    before, head = snapshot(sample_vault), _head(sample_vault)
    result = run_cli(sample_vault, "rename", "people", "team")
    assert result.exit_code == 2
    assert "uncommitted changes in people/entity-kim-scott.md" in result.output
    assert snapshot(sample_vault) == before and _head(sample_vault) == head


def test_a_folder_and_a_note_of_one_name_are_told_apart_by_the_slash(tmp_path: Path, run_cli) -> None:
    source = tmp_path / "src"
    (source / "topic").mkdir(parents=True)
    (source / "topic.md").write_text("[[topic/inner]]\n")
    (source / "topic" / "inner.md").write_text("[[topic]]\n")
    vault = make_git_vault(source, tmp_path / "vault")
    result = run_cli(vault, "rename", "topic", "subject")
    assert result.exit_code == 2 and "'topic/' for the folder" in result.output
    assert run_cli(vault, "rename", "topic/", "subject").exit_code == 0
    assert (vault / "topic.md").read_text() == "[[subject/inner]]\n"
    assert (vault / "subject" / "inner.md").read_text() == "[[topic]]\n"


# --- check ------------------------------------------------------------------------------------------


def test_check_reports_broken_canvas_references_with_the_node(tmp_path: Path, run_cli) -> None:
    (tmp_path / "a.md").write_text("a\n")
    (tmp_path / "board.canvas").write_text(
        '{"nodes":[\n'
        '{"id":"ok","type":"file","file":"a.md"},\n'
        '{"id":"gone","type":"file","file":"missing.md","subpath":"#H"},\n'
        '{"id":"txt","type":"text","text":"fine [[a]], broken \\u2192 [[nowhere|N]]"},\n'
        '{"id":"bg","type":"group","background":"img/none.png"}\n'
        "]}"
    )
    (tmp_path / "bad.canvas").write_text('{"nodes":[}')
    result = run_cli(tmp_path, "check", "--json")
    assert result.exit_code == 1
    findings = [(f["kind"], f["path"], f["line"], f["column"], f["message"]) for f in _findings(result)]
    assert findings == [
        (
            "unparsable-canvas",
            "bad.canvas",
            1,
            1,
            "canvas does not parse: line 1, column 11: expected a JSON value",
        ),
        ("broken-canvas-link", "board.canvas", 3, 36, "node 'gone' (file): missing.md points to no file"),
        ("broken-canvas-link", "board.canvas", 4, 61, "node 'txt' (text): [[nowhere|N]] points to no file"),
        (
            "broken-canvas-link",
            "board.canvas",
            5,
            41,
            "node 'bg' (background): img/none.png points to no file",
        ),
    ]
    human = run_cli(tmp_path, "check").output
    assert "1 notes checked: 3 broken-canvas-link, 1 unparsable-canvas." in human


def _findings(result) -> list[dict]:
    return json.loads(result.output)["findings"]


def test_the_sample_vaults_canvas_has_no_broken_reference(sample_vault: Path, run_cli) -> None:
    findings = _findings(run_cli(sample_vault, "check", "--json"))
    assert not [f for f in findings if f["path"].endswith(".canvas")]


# --- moving a folder and back is the identity ---------------------------------------------------------

NAMES = st.lists(
    st.sampled_from(["alpha", "Beta", "gamma delta", "épée", "n1"]), min_size=1, max_size=3, unique=True
)
FOLDERS = st.sampled_from(["x", "deep/er", "Zeta", "a b"])


def _link_forms(name: str, folder: str, source_folder: str) -> list[str]:
    """Every path form a move must keep reaching (partial paths are widened to full ones: not identity)."""
    relative = "/".join([".."] * len([p for p in source_folder.split("/") if p]) + [folder, name])
    quoted = relative.replace(" ", "%20")
    return [
        f"[[{name}]]",
        f"[[{folder}/{name}|shown]]",
        f"![[{folder}/{name}#H]]",
        f"[[/{folder}/{name}]]",
        f"[t]({quoted}.md)",
        f"[t](<{relative}.md#H>)",
        f"![[{name}.png|300]]",
        f"![i]({quoted}.png)",
    ]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=NAMES, old_folder=st.sampled_from(["src", "src/inner"]), new_folder=FOLDERS, crlf=st.booleans())
def test_moving_a_folder_and_back_is_the_identity(
    names: list[str], old_folder: str, new_folder: str, crlf: bool
) -> None:
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        newline = "\r\n" if crlf else "\n"
        (root / old_folder).mkdir(parents=True)
        (root / "other").mkdir()
        nodes = []
        for number, name in enumerate(names):
            (root / old_folder / f"{name}.md").write_text(
                f"# H{newline}to the others: [[{names[0]}]] [r](./{names[-1].replace(' ', '%20')}.md){newline}",
                encoding="utf-8",
            )
            (root / old_folder / f"{name}.png").write_bytes(b"\x89PNG" + name.encode())
            forms = _link_forms(name, old_folder, "other")
            (root / "other" / f"links-{number}.md").write_text(
                newline.join(forms) + newline, encoding="utf-8"
            )
            nodes.append(json.dumps({"id": str(number), "type": "file", "file": f"{old_folder}/{name}.md"}))
            nodes.append(json.dumps({"id": f"t{number}", "type": "text", "text": " ".join(forms)}))
        (root / "other" / "board.canvas").write_text('{"nodes":[\n' + ",\n".join(nodes) + "\n]}")
        before = snapshot(root)
        _move(root, old_folder + "/", new_folder + "/")
        assert snapshot(root) != before
        assert not (root / old_folder).exists()
        _move(root, new_folder + "/", old_folder + "/")
        assert snapshot(root) == before
        shutil.rmtree(root / ".vaulttools", ignore_errors=True)


def _move(root: Path, old: str, new: str) -> None:
    vault = Vault(root)
    plan = plan_renames(vault, [(old, new)])
    run_batch(vault, plan, BatchOptions(commit=False))


def test_files_the_vault_does_not_manage_stay_and_are_named(sample_vault: Path, run_cli) -> None:
    (sample_vault / "people" / ".hidden-note.md").write_bytes(b"[[entity-kim-scott]]\n")
    git(sample_vault, "add", "-A")
    git(sample_vault, "commit", "-qm", "hidden")
    result = run_cli(sample_vault, "rename", "people", "team")
    assert result.exit_code == 0, result.output
    assert "people/ holds 1 file(s) outside the vault's notes and attachments" in result.output
    assert (sample_vault / "people" / ".hidden-note.md").read_bytes() == b"[[entity-kim-scott]]\n"
    assert sorted(p.name for p in (sample_vault / "team").iterdir()) == [
        "entity-amy-edmondson.md",
        "entity-jane-doe.md",
        "entity-kim-scott.md",
    ]


@pytest.mark.parametrize(
    ("old_folder", "new", "expected"),
    [
        ("projects/alpha", "beta", "projects/beta"),  # a name: the folder stays in its parent
        ("projects/alpha", "archive/alpha", "archive/alpha"),  # a path: it moves
        ("projects/alpha", "alpha/", "alpha"),  # `name/`: to the vault's top
        ("projects/alpha", "/alpha", "alpha"),  # or `/name`
        ("projects/alpha", "/archive/alpha/", "archive/alpha"),
        ("alpha", "beta", "beta"),
        ("alpha", "alpha", "alpha"),  # no-op: the caller leaves it out
    ],
)
def test_new_folder_path(old_folder: str, new: str, expected: str) -> None:
    assert new_folder_path(old_folder, new) == expected


@pytest.mark.parametrize("new", ["", "//abs", "/", "../up", "a/../b", " pad", "a:b", ".hidden", "a//b"])
def test_new_folder_path_refusals(new: str) -> None:
    with pytest.raises(VaultError):
        new_folder_path("folder", new)


@pytest.mark.parametrize(
    ("old_path", "new", "expected"),
    [
        ("img/diagram.png", "flow", "img/flow.png"),  # the extension is kept
        ("img/diagram.png", "flow.jpg", "img/flow.jpg"),  # or changed when NEW names one
        ("img/diagram.png", "assets/flow", "assets/flow.png"),
        ("diagram.png", "diagram.png", "diagram.png"),  # no-op
        ("board.canvas", "maps/board", "maps/board.canvas"),
        ("README", "LICENSE", "LICENSE"),  # a file without an extension
        ("img/diagram.png", "/flow", "flow.png"),  # a leading `/`: to the vault's top
    ],
)
def test_new_attachment_path(old_path: str, new: str, expected: str) -> None:
    assert new_attachment_path(old_path, new) == expected


@pytest.mark.parametrize("new", ["note.md", "x/Note.MD", "", "//abs.png", "/", "../x.png", "a?.png"])
def test_new_attachment_path_refusals(new: str) -> None:
    with pytest.raises(VaultError):
        new_attachment_path("img/diagram.png", new)


def test_keep_alias_adds_nothing_to_notes_that_only_move(sample_vault: Path, run_cli) -> None:
    before = snapshot(sample_vault)
    result = run_cli(sample_vault, "rename", "people", "team", "--keep-alias")
    assert result.exit_code == 0, result.output
    after = snapshot(sample_vault)
    assert after["team/entity-kim-scott.md"] == before["people/entity-kim-scott.md"]


@pytest.mark.slow
def test_brain_corpus_folder_move_and_undo(brain_vault: Path, run_cli) -> None:
    """A real folder of 24 notes (nested, `¶` and `'` in names) moves without a byte changing inside any
    file (its links are bare names that still reach); undo brings back the vault and the folder."""
    before = snapshot(brain_vault)
    moved = {p for p in before if p.startswith("Zettelkasten/")}
    result = run_cli(brain_vault, "rename", "Zettelkasten", "Notes/ZK")
    assert result.exit_code == 0, result.output
    after = snapshot(brain_vault)
    assert {p.replace("Notes/ZK/", "Zettelkasten/", 1) for p in after if p.startswith("Notes/ZK/")} == moved
    assert all(
        after[p] == before[p.replace("Notes/ZK/", "Zettelkasten/", 1)]
        for p in after
        if p.startswith("Notes/")
    )
    assert not (brain_vault / "Zettelkasten").exists()
    assert run_cli(brain_vault, "undo").exit_code == 0
    assert snapshot(brain_vault) == before
    assert not (brain_vault / "Notes").exists()
    shutil.rmtree(brain_vault / ".vaulttools", ignore_errors=True)


def test_folder_rename_lists_the_queries_that_name_the_folder(tmp_path: Path) -> None:
    """`FROM "labs"` names the folder and nothing in it: the rename still reads that note and lists it."""
    from tests.helpers import run_vaulttools

    source = tmp_path / "src"
    (source / "labs").mkdir(parents=True)
    (source / "labs" / "experiment-alpha.md").write_text("# Alpha\n")
    query = '# Index\n\n```dataview\nLIST FROM "labs" AND !"labs/index"\n```\n'
    (source / "index.md").write_text(query)
    vault = make_git_vault(source, tmp_path / "v")
    result = run_vaulttools(vault, "rename", "labs/", "lab", "--json")
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)["report"]["left_alone"]
    assert [(p["path"], p["line"], p["reason"], p["target"]) for p in listed] == [
        ("index.md", 4, "dataview", '"labs"'),
        ("index.md", 4, "dataview", '"labs/index"'),
    ]
    assert (vault / "index.md").read_text() == query
    assert (vault / "lab" / "experiment-alpha.md").is_file()
