"""The tag commands' byte prefilter: a note it passes over must have nothing to edit, report or leave alone
(the planner, run on the same bytes, agrees); a word of the text that happens to spell the tag is passed
over, so a tag named after a common word does not send most of the vault through the YAML planner."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from vaulttools.note import Note
from vaulttools.tags import TagOperation, candidate_filter, frontmatter_byte_end, plan_tag_note

RENAME = TagOperation(renames=(("trust", "confidence"),))
MAY_HOLD = candidate_filter(["trust"])

CASES: list[tuple[bytes, bool]] = [
    # the tag where the planner edits it
    (b'---\ntags: ["trust", "x"]\n---\nbody\n', True),
    (b"---\ntags: [Trust]\n---\n", True),
    (b"---\ntags:\n  - trust/deep\n---\n", True),
    (b"---\ntags:\n- x\n# a comment\n- trust\n---\n", True),
    (b"---\r\ntags:\r\n  - trust\r\n---\r\n", True),
    (b"\xef\xbb\xbf---\ntags: trust\n---\n", True),
    (b"---\ntag: trust, x\n---\n", True),
    (b'---\n"tags": [trust]\n---\n', True),  # a quoted key: the byte scan cannot tell, so it passes
    (b"---\n{tags: [trust]}\n---\n", True),
    (b'---\ntags: ["\\ttrust"]\n---\n', True),  # an escape before the name
    (b"---\ntags: [trust\n---\n", True),  # frontmatter that does not parse: reported as left alone
    (b"no frontmatter, a #trust tag\n", True),
    (b"---\nq: 'FROM #trust'\n---\n", True),  # a query in a property: listed for review
    (b"```\n#trust in code\n```\n", True),
    (b"---\ndefinition: plain\n---\n\xff trust\n", True),  # not UTF-8: left alone, reported
    (b"trust\x00binary", True),
    # a word of the text, or part of another name: nothing to do
    (b"---\ndefinition: Engineers lose trust without it\n---\ntrust me\n", False),
    (b'---\nrelated: ["concept-trust-bias"]\ntags: [x]\n---\n', False),
    (b"---\ntags: [parent/trust, trusted]\n---\n", False),
    (b"---\ndefinition: >\n  folded text\n  on trust\ntags: [x]\n---\n", False),
    (b"---\ntrust: high\n---\n", False),
    (b"plain text about trust, and #trusted\n", False),
    (b"---\ndefinition: never closes, trust\n", False),
    (b"---\ndefinition: never closes\ntrust\n", True),  # a line the byte scan cannot place: it passes
    (b"", False),
]


@pytest.mark.parametrize(("raw", "expected"), CASES)
def test_prefilter(raw: bytes, expected: bool) -> None:
    assert MAY_HOLD(raw) is expected
    if not expected:  # what it passes over, the planner would leave as it is, unreported
        outcome = plan_tag_note(Note("n.md", raw), RENAME)
        assert (outcome.change, outcome.left_alone, outcome.mentions) == (None, None, ())


@pytest.mark.parametrize(
    ("raw", "end"),
    [
        (b"---\na: 1\n---\nbody", 13),
        (b"---\r\na: 1\r\n...\r\nbody", 16),
        (b"\xef\xbb\xbf---\na: 1\n---\n", 16),
        (b"---\na: 1\n", 9),  # never closes: the whole file
        (b"body\n---\n", 0),
        (b"", 0),
    ],
)
def test_frontmatter_byte_end(raw: bytes, end: int) -> None:
    assert frontmatter_byte_end(raw) == end


_PIECES = st.sampled_from(
    [
        "---\n",
        "tags:",
        " trust",
        " - trust",
        "\n",
        "  - x\n",
        "definition: trust\n",
        "#trust",
        " #",
        "trust/a",
        "a-trust",
        "'",
        '"',
        "[",
        "]",
        ",",
        "\r\n",
        "key: v\n",
        "...\n",
        "\\",
        "Trust",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=14))
@example(["---\n", "\\", "---\n", "---\n"])  # unparsable frontmatter with a backslash, no tag named
def test_whatever_it_passes_over_the_planner_leaves_alone(pieces: list[str]) -> None:
    raw = "".join(pieces).encode()
    if not MAY_HOLD(raw):
        outcome = plan_tag_note(Note("n.md", raw), RENAME)
        assert (outcome.change, outcome.left_alone, outcome.mentions) == (None, None, ()), raw
