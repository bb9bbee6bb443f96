"""`tag rename` against an oracle that knows which characters are tags because it wrote them.

Each generated note is built from pieces, each either a tag occurrence of OLD (in the body: after a space,
at a line start, in a list item or a quote, nested, in another letter case, before punctuation; in the
frontmatter: flow list, block list, scalar, comma string, quoted, with `#`) or a near miss that Obsidian does
not read as that tag (`#older`, `#old-x`, `a#old`, inline code, a link's heading, a URL's fragment, an
HTML comment, math, `#1984`, another property). The expected note is the same pieces with every occurrence
written as NEW; `vaulttools tag rename OLD NEW --no-commit` must produce exactly those bytes.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vaulttools.cli import cli

OLD_SPELLINGS = ["old", "Old", "OLD"]
NESTED = ["", "/child", "/Deep/x"]
# Body pieces: a template where {tag} is an occurrence of the tag (written `#` + spelling + nesting).
BODY_OCCURRENCES = [
    "see {tag} here",
    "{tag} at the start",
    "- {tag}",
    "> {tag} in a quote",
    "ends with {tag}.",
    "two {tag}, {tag}",
    "| cell | {tag} |",
]
NEAR_MISSES = [
    "#older is another tag",
    "#old-x is another tag",
    "a#old is no tag",
    "`#old` in code",
    "[[note#old]] a heading",
    "[t](x.md#old) a heading",
    "https://example.org/page#old a fragment",
    "<!-- #old --> a comment",
    "$#old$ math",
    "#1984 is digits",
    "# old is a heading",
]
FRONTMATTER_FORMS = [
    "tags: [{tag}, other]",
    "tags:\n  - {tag}\n  - other",
    "tags: {tag}",
    "tags: {tag}, other",
    'tags: ["{hash}{tag}"]',
    "tags:\n  - '{tag}'  # a comment",
]


@st.composite
def notes(draw: st.DrawFn) -> tuple[str, str]:
    """(note as written with OLD, the note expected after `tag rename old new`)."""

    def occurrence(hash_sign: str) -> tuple[str, str]:
        spelling, nested = draw(st.sampled_from(OLD_SPELLINGS)), draw(st.sampled_from(NESTED))
        return hash_sign + spelling + nested, hash_sign + "new" + nested

    before, after = [], []
    form = draw(st.sampled_from([None, *FRONTMATTER_FORMS]))
    if form is not None:
        old, new = occurrence("")
        hash_sign = draw(st.sampled_from(["", "#"]))
        before += ["---", form.format(tag=old, hash=hash_sign), "topic: old", "---"]
        after += ["---", form.format(tag=new, hash=hash_sign), "topic: old", "---"]
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        if draw(st.booleans()):
            template = draw(st.sampled_from(BODY_OCCURRENCES))
            pairs = [occurrence("#") for _ in range(template.count("{tag}"))]
            before.append(template.replace("{tag}", "\0").replace("\0", "{}").format(*(o for o, _ in pairs)))
            after.append(template.replace("{tag}", "\0").replace("\0", "{}").format(*(n for _, n in pairs)))
        else:
            miss = draw(st.sampled_from(NEAR_MISSES))
            before.append(miss)
            after.append(miss)
    line_end = draw(st.sampled_from(["\n", "\r\n"]))
    return line_end.join(before) + line_end, line_end.join(after) + line_end


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(notes(), min_size=1, max_size=4))
def test_tag_rename_rewrites_exactly_the_tags(pairs: list[tuple[str, str]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for number, (before, _) in enumerate(pairs):
            (root / f"n{number}.md").write_bytes(before.encode())
        result = CliRunner().invoke(cli, ["-C", folder, "tag", "rename", "old", "new", "--no-commit", "-q"])
        written = [(root / f"n{number}.md").read_bytes().decode() for number in range(len(pairs))]
    assert result.exit_code == 0, result.output
    assert written == [after for _, after in pairs]
