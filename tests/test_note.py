import pytest

from vaulttools.note import Note, find_opaque_regions, split_frontmatter


@pytest.mark.parametrize(
    ("text", "yaml", "body"),
    [
        ("---\na: 1\n---\nbody", "a: 1\n", "body"),
        ("---\r\na: 1\r\n---\r\nbody", "a: 1\r\n", "body"),
        ("---\na: 1\n...\nbody", "a: 1\n", "body"),
        ("---\n---\nbody", "", "body"),
        ("---\na: 1\n---", "a: 1\n", ""),
        ("no frontmatter\n---\n", None, "no frontmatter\n---\n"),
        (" ---\na: 1\n---\n", None, " ---\na: 1\n---\n"),
    ],
)
def test_split_frontmatter(text: str, yaml: str | None, body: str) -> None:
    note = Note("n.md", text.encode())
    assert (note.frontmatter_text if note.frontmatter else None) == yaml
    assert note.body == body


def test_unclosed_frontmatter_is_a_problem_not_a_block() -> None:
    fm, problem = split_frontmatter("---\na: 1\nbody\n")
    assert fm is None
    assert problem is not None and "never closes" in problem


@pytest.mark.parametrize(
    ("yaml", "error_part"),
    [
        ("a: 1\n", None),
        ("tags: [a, b\n", "flow sequence"),
        ("a: 1\na: 2\n", "duplicate key 'a'"),
        ("a:\n\t- b\n", "tabs"),
        ("- a\n- b\n", "not a mapping"),
        ("", None),
    ],
)
def test_yaml_errors(yaml: str, error_part: str | None) -> None:
    note = Note("n.md", f"---\n{yaml}---\nbody\n".encode())
    if error_part is None:
        assert note.yaml_error is None
        assert note.frontmatter_editable
    else:
        assert error_part in (note.yaml_error or "")
        assert not note.frontmatter_editable


def test_bom_crlf_and_encoding_round_trip() -> None:
    raw = '\ufeff---\r\nid: "x"\r\n---\r\nbody [[a]]'.encode()
    note = Note("n.md", raw)
    assert note.bom
    assert note.newline == "\r\n"
    assert note.encode() == raw
    assert note.text.startswith("---")


@pytest.mark.parametrize(
    "raw",
    [b"\xff\xfe bad bytes", b"\x00\x01\x02binary", b"caf\xe9"],
)
def test_undecodable_notes_are_not_editable(raw: bytes) -> None:
    note = Note("n.md", raw)
    assert not note.editable
    assert note.links == []


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("plain [[a]]\n", []),
        ("```\n[[a]]\n```\n", ["code"]),
        ("~~~python\n[[a]]\n~~~\n", ["code"]),
        ("````\n```\n[[a]]\n````\n", ["code"]),
        ("text `[[a]]` text\n", ["code"]),
        ("text ``a ` [[b]]`` text\n", ["code"]),
        ("<!-- [[a]]\nmore -->\n", ["html-comment"]),
        ("$$\n[[a]]\n$$\n", ["math"]),
        ("$$ [[a]] $$\n", ["math"]),
        ("inline $x = [[a]]$ math\n", ["math"]),
        ("costs $5 and $10 [[a]]\n", []),
        ("para\n\n    indented code [[a]]\n", ["code"]),
        ("- item\n\n    continued [[a]]\n", []),
        ("para\n    lazy continuation [[a]]\n", []),
        ("```\nnever closed [[a]]\n", ["code"]),
    ],
)
def test_opaque_regions(text: str, kinds: list[str]) -> None:
    assert [r.kind for r in find_opaque_regions(text)] == kinds


@pytest.mark.parametrize(
    ("body", "kinds", "link_kinds"),
    [
        ("plain `code` and $x$, no link\n", ["code", "math"], []),  # no `[`: nothing a link starts in
        ("a `[[x]]` and $y$\n", ["code", "math"], ["code", "math"]),
        ("```\nc\n```\nRun `make` for $O(n)$.\n", ["code", "code", "math"], ["code"]),
        ("`a` [[x]]\n```\nc\n```\n`b` $z$\n", ["code", "code", "code", "math"], ["code", "code"]),
        ("`a`\n```\nc\n```\n`b` [y](z)\n", ["code", "code", "code"], ["code", "code"]),
        (
            "<!-- a -->\n$$\nm\n$$\n![[e]] <!-- b -->\n",
            ["html-comment", "math", "html-comment"],
            ["math", "html-comment"],
        ),
        ("```\n[[a]]\n```\n", ["code"], ["code"]),  # blocks always
        ("", [], []),
    ],
)
def test_link_regions_leave_out_inline_regions_between_blocks_without_a_bracket(
    body: str, kinds: list[str], link_kinds: list[str]
) -> None:
    """Only a stretch between blocks that holds a `[` can hold a link's start: its inline regions are kept,
    the others' left out; the blocks themselves are all kept."""
    text = "---\nid: n\n---\n" + body
    assert [r.kind for r in Note("n.md", text.encode()).regions] == kinds
    links_only = Note("n.md", text.encode()).link_regions
    assert [r.kind for r in links_only] == link_kinds
    assert set(links_only) <= set(Note("n.md", text.encode()).regions)


def test_link_regions_are_the_regions_once_those_are_found() -> None:
    note = Note("n.md", b"Run `make` first.\n")
    assert note.link_regions == [] and note.regions != []
    found = Note("n.md", b"Run `make` first.\n")
    assert found.regions is found.link_regions  # found first: the same list, not a walk again


# --- the fast frontmatter loader must agree with PyYAML whenever it answers ---------------------------

import yaml  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from vaulttools.note import load_simple_yaml, simple_yaml_lines_by_key  # noqa: E402

_key = st.sampled_from(["id", "tags", "y", "on", "related", "originDay", "a-b", "x_1", "Yes"])
_scalar = st.one_of(
    st.text(max_size=8).map(lambda t: f'"{t}"'),
    st.integers(-5000, 5000).map(str),
    st.sampled_from(
        ["007", "0", "-0", "yes", "No", "null", "word", "word-2", "1.5", "~", "2024-01-01", "x y"]
    ),
    st.lists(st.text(max_size=5), max_size=3).map(
        lambda items: "[" + ", ".join(f'"{i}"' for i in items) + "]"
    ),
)
_line = st.one_of(
    st.tuples(_key, _scalar, st.sampled_from(["\n", "\r\n", " \n"])).map(lambda t: f"{t[0]}: {t[1]}{t[2]}"),
    st.sampled_from(["\n", "\r\n", "  \n", "\r"]),  # blank lines, and a lone "\r"
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_line, max_size=6))
def test_simple_yaml_agrees_with_pyyaml(lines: list[str]) -> None:
    text = "".join(lines)
    simple = load_simple_yaml(text)
    if simple is None:
        return
    assert simple == (yaml.safe_load(text) or {})


# `simple_yaml_lines_by_key` proves a block is in the grammar by its count of matches: as many as its
# lines but an empty first and last (the quick count), or else as many as its lines that are not blank.
SIMPLE_LINE_COUNTS = [
    ('a: "x"\nb: 2\n', {"a": '"x"', "b": "2"}),  # the quick count
    ('a: "x"\nb: 2', {"a": '"x"', "b": "2"}),  # no line break at the end
    ('\na: "x"\n', {"a": '"x"'}),  # an empty first line
    ('a: "x"\n\nb: 2\n', {"a": '"x"', "b": "2"}),  # a blank line inside: counted without it
    ('a: "x"\r\n\r\nb: 2\r\n', {"a": '"x"', "b": "2"}),  # a blank CRLF line inside
    ('a: "x"\n   \nb: 2\n', None),  # a line of spaces is not blank to the grammar: the real loader
    ('a: "x\nb: 2"\n', None),  # a string over two lines: one match for two lines
    ('a: "x"\nnot a property\n', None),  # a line outside the grammar
    ('a: "x"\n\nnot a property\n', None),  # the same after a blank line
    ('a: "x"\n\r', None),  # a lone "\r" last line
    ("", {}),
]


@pytest.mark.parametrize(("yaml_text", "expected"), SIMPLE_LINE_COUNTS)
def test_simple_lines_are_counted_against_the_lines(yaml_text: str, expected: dict | None) -> None:
    assert simple_yaml_lines_by_key(yaml_text) == expected


# `Note.property_value` reads one key of a simple frontmatter without loading the rest; it must give what
# `properties` gives, on every shape of frontmatter (the lazy path and the loaded one alike).
PROPERTY_FRONTMATTERS = [
    ('id: "a"\ntags: ["x", "y"]\nrelated: ["b", "c"]\noriginDay: 9\nkind: word\n', True),
    ('id: "a"\r\ntags: ["x", "y"]\r\nrelated: []\r\n', True),  # CRLF
    ('id: "a"\ntags: ["x"]\ntags: ["y"]\n', False),  # a repeated key: the real loader's error
    ('id: "a"  # a comment\nrelated:\n  - "b"\n', False),  # comments and a block list: the real loader
    ('id: yes\nrelated: "b"\n', False),  # a YAML 1.1 boolean: the real loader
    ('id: "a\\"b"\n', False),  # an escape
    ("", True),  # an empty frontmatter
    ('id: "a"\nrelated: ["b", "c"\n', False),  # does not parse
]


@pytest.mark.parametrize(("yaml_text", "simple"), PROPERTY_FRONTMATTERS)
@pytest.mark.parametrize("prefix", ["", "\ufeff"])
def test_property_value_is_the_properties_value(yaml_text: str, simple: bool, prefix: str) -> None:
    raw = f"{prefix}---\n{yaml_text}---\nbody [[x]]\n".encode()
    keys = ["id", "tags", "related", "originDay", "kind", "absent"]
    lazy = [Note("n.md", raw).property_value(key) for key in keys]
    loaded = Note("n.md", raw)
    expected = [(loaded.properties or {}).get(key) for key in keys]
    assert lazy == expected == [loaded.property_value(key) for key in keys]
    fresh = Note("n.md", raw)
    fresh.property_value("tags")
    assert fresh.simple_yaml is simple
    assert ("_yaml" in fresh.__dict__) is not simple  # the simple frontmatter was not loaded whole
    assert fresh.yaml_error == loaded.yaml_error and ("_yaml" in fresh.__dict__) is not simple


def test_property_value_without_frontmatter() -> None:
    for raw in (b"no frontmatter [[x]]\n", b"---\nid: a\nnever closed\n"):
        note = Note("n.md", raw)
        assert note.property_value("id") is None and note.properties is None


# `_boolean_key` tests keys against every ASCII spelling of YAML 1.1's words; it must say what lowering
# each key would: for those words in any case, and for keys with characters that lower to other letters.
_KEY_SPELLINGS = ["yes", "YES", "yEs", "No", "nULL", "oFf", "TRUE", "y", "Y", "n", "on", "false"]
_NOT_BOOLEAN = [
    "yess",
    "ye",
    "nul",
    "tru",
    "id",
    "onn",
    "o",
    "yeſ",
    "ＹＥＳ",
    "İ",
    "\u212a",
    "true ",
    " on",
    "",
]


@pytest.mark.parametrize("key", _KEY_SPELLINGS + _NOT_BOOLEAN)
def test_boolean_key_is_the_lowered_word(key: str) -> None:
    from vaulttools.note import _YAML11_WORDS, _boolean_key

    assert _boolean_key([key]) is (key.lower() in _YAML11_WORDS)
    assert _boolean_key(["id", key, "tags"]) is (key.lower() in _YAML11_WORDS)
    assert _boolean_key([]) is False


def test_boolean_key_spellings_are_every_case_of_every_word() -> None:
    from vaulttools.note import _YAML11_WORDS, _YAML11_WORDS_ANY_CASE

    assert {spelling.lower() for spelling in _YAML11_WORDS_ANY_CASE} == _YAML11_WORDS
    assert len(_YAML11_WORDS_ANY_CASE) == sum(2 ** len(word) for word in _YAML11_WORDS)
