import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from vaulttools import resolve
from vaulttools.resolve import AMBIGUOUS, BROKEN, RESOLVED, LinkIndex, strip_md

PATHS = [
    "Note.md",
    "a/Same.md",
    "b/Same.md",
    "a/Only.md",
    "deep/er/Only2.md",
    "x/Tie.md",
    "y/Tie.md",
    "img.png",
    "Figure 1.png",
    "Café.md",
    "Obsidian Sync/Security and privacy.md",
    "Obsidian Publish/Security and privacy.md",
    "Report.md.md",
]


@pytest.mark.parametrize(
    ("target", "source", "status", "path"),
    [
        ("Note", "z.md", RESOLVED, "Note.md"),
        ("note", "z.md", RESOLVED, "Note.md"),  # case-insensitive
        ("NOTE.md", "z.md", RESOLVED, "Note.md"),
        ("Only", "z.md", RESOLVED, "a/Only.md"),
        ("a/Only", "z.md", RESOLVED, "a/Only.md"),
        ("er/Only2", "z.md", RESOLVED, "deep/er/Only2.md"),  # path suffix
        ("r/Only2", "z.md", BROKEN, None),  # suffix only at folder boundaries
        ("Same", "a/z.md", RESOLVED, "a/Same.md"),  # own folder wins
        ("Same", "b/z.md", RESOLVED, "b/Same.md"),
        ("Tie", "z.md", AMBIGUOUS, None),  # equal-length tie
        ("Security and privacy", "Obsidian Sync/x.md", RESOLVED, "Obsidian Sync/Security and privacy.md"),
        ("img.png", "z.md", RESOLVED, "img.png"),
        ("Figure 1.png", "z.md", RESOLVED, "Figure 1.png"),
        ("Cafe\u0301", "z.md", RESOLVED, "Café.md"),  # NFD link, NFC file
        ("/a/Only", "z.md", RESOLVED, "a/Only.md"),
        ("/Only", "z.md", BROKEN, None),
        ("./Only", "a/z.md", RESOLVED, "a/Only.md"),
        ("../Note", "a/z.md", RESOLVED, "Note.md"),
        ("../../Note", "a/z.md", BROKEN, None),
        ("Report.md", "z.md", RESOLVED, "Report.md.md"),
        ("missing", "z.md", BROKEN, None),
    ],
)
def test_resolve(target: str, source: str, status: str, path: str | None) -> None:
    resolution = LinkIndex(PATHS).resolve(target, source)
    assert (resolution.status, resolution.path) == (status, path)


def test_ambiguous_lists_candidates() -> None:
    resolution = LinkIndex(PATHS).resolve("Tie", "z.md")
    assert resolution.candidates == ("x/Tie.md", "y/Tie.md")


def test_the_exact_file_name_wins_over_the_name_with_md() -> None:
    index = LinkIndex(["Report.md", "Report.md.md", "a/Report.md.md"])
    assert index.resolve("Report.md", "a/z.md").path == "Report.md"
    assert index.resolve("Report.md.md", "a/z.md").path == "Report.md.md"
    assert index.resolve("Report", "a/z.md").path == "Report.md"


def test_shortest_path_wins() -> None:
    index = LinkIndex(["long/folder/N.md", "s/N.md"])
    assert index.resolve("N", "elsewhere/z.md").path == "s/N.md"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Same", ["a/Same.md", "b/Same.md"]),
        ("same.md", ["a/Same.md", "b/Same.md"]),
        ("Report.md", ["Report.md.md"]),  # `[[Report.md]]` reaches the note `Report.md.md`
        ("Report", []),
        ("img.png", ["img.png"]),
        ("Only2", ["deep/er/Only2.md"]),
        ("er/Only2", []),  # a name, not a path
        ("missing", []),
    ],
)
def test_files_named(name: str, expected: list[str]) -> None:
    assert sorted(LinkIndex(PATHS).files_named(name)) == expected


def test_relative_answers_are_shared_across_folders_until_the_index_changes() -> None:
    """A note reached by relative paths from several folders is looked up once; a removed file is not
    remembered past its removal, and each folder still joins from its own place."""
    index = LinkIndex(["a/b/Target.md", "a/c/one.md", "a/b/d/two.md", "É/three.md"])
    first = index.resolve("../b/Target.md", "a/c/one.md")
    assert first == index.resolve("../Target.md", "a/b/d/two.md") == (RESOLVED, "a/b/Target.md", ())
    assert index.resolve("./Target", "a/b/x.md").path == "a/b/Target.md"
    assert index.resolve("../a/b/Target.md", "É/three.md").path == "a/b/Target.md"
    assert index.resolve("../b/Target.md", "a/b/d/two.md").status == BROKEN  # a/b/b/Target.md
    index.remove("a/b/Target.md")
    assert index.resolve("../b/Target.md", "a/c/one.md").status == BROKEN
    assert index.resolve("../Target.md", "a/b/d/two.md").status == BROKEN


# A name many files share (a folder note in each folder), and the targets and linking notes to ask with.
_FOLDERS = st.sampled_from(["", "a", "a/b", "b", "A/B", "c/a", "a/b/c", "d", "Café", "cafe\u0301"])
_NAMES = st.sampled_from(["index.md", "Index.md", "index", "index.md.md", "other.md", "index.png"])


@settings(max_examples=80, deadline=None)
@example(files=[("", "index.md"), ("a", "index.md")], targets=["index.md"], sources=["a"])  # exact path first
@example(files=[("a", "index.md"), ("b", "index.md")], targets=["index"], sources=["a", "c"])  # own folder
@given(
    st.lists(st.tuples(_FOLDERS, _NAMES), min_size=1, max_size=40, unique=True),
    st.lists(
        st.sampled_from(
            [
                "index",
                "Index.md",
                "a/index",
                "b/index",
                "/index",
                "A/b/index",
                "c/a/index",
                "index.md",
                "x/index",
                "a/b/index.md",
                "café/index",
                "./index",
                "../index",
                "index.png",
                " index ",
            ]
        ),
        min_size=1,
        max_size=6,
    ),
    st.lists(_FOLDERS, min_size=1, max_size=4),
)
def test_a_big_name_bucket_resolves_as_the_plain_walk(
    files: list[tuple[str, str]], targets: list[str], sources: list[str]
) -> None:
    """`files_at` by parent folder and `choose` made once per name give the plain walk's answers, for
    every target from every folder (the plain walk: buckets never counted as big)."""
    paths = [f"{folder}/{name}" if folder else name for folder, name in files]
    fast = LinkIndex(paths)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(resolve, "_BIG_BUCKET", 0)  # everything through the new structures
        for source_folder in sources:
            source = f"{source_folder}/n.md" if source_folder else "n.md"
            for target in targets:
                patch.setattr(resolve, "_BIG_BUCKET", 0)
                answer = fast.resolve(target, source)
                found = fast.files_at(resolve.fold(target.strip()))
                patch.setattr(resolve, "_BIG_BUCKET", 10**9)
                plain = LinkIndex(paths)
                assert answer == plain.resolve(target, source), (target, source)
                assert found == plain.files_at(resolve.fold(target.strip())), target


@pytest.mark.parametrize(
    ("path", "stripped"),
    [
        ("a.md", "a"),
        ("a.MD", "a"),
        ("a.Md", "a"),
        ("a.mD", "a"),
        ("dir/Note.md", "dir/Note"),
        ("a.md.md", "a.md"),
        (".md", ""),
        ("a.mdx", "a.mdx"),
        ("a.m", "a.m"),
        ("md", "md"),
        ("a-md", "a-md"),
        ("a.ｍd", "a.ｍd"),  # a fullwidth m is no ASCII letter
        ("", ""),
    ],
)
def test_strip_md_drops_the_extension_in_any_case(path: str, stripped: str) -> None:
    assert strip_md(path) == stripped
    assert strip_md(path) == (path[:-3] if path.lower().endswith(".md") else path)
