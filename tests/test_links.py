import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vaulttools.links import BARE, EMBED, MARKDOWN, PROPERTY, WIKILINK
from vaulttools.note import Note


def links_of(text: str):
    note = Note("folder/n.md", text.encode())
    return note, note.links


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # (kind, target, target as written, subpath, display)
        ("[[a]]", [(WIKILINK, "a", "a", "", None)]),
        ("[[a|Shown]]", [(WIKILINK, "a", "a", "", "Shown")]),
        ("[[a#H|Shown]]", [(WIKILINK, "a", "a", "#H", "Shown")]),
        ("[[a#^block-1|x]]", [(WIKILINK, "a", "a", "#^block-1", "x")]),
        ("[[a#H1#H2]]", [(WIKILINK, "a", "a", "#H1#H2", None)]),
        ("[[ a | b ]]", [(WIKILINK, "a", "a", "", " b ")]),
        ("![[img.png|100x145]]", [(EMBED, "img.png", "img.png", "", "100x145")]),
        ("[[folder/a]]", [(WIKILINK, "folder/a", "folder/a", "", None)]),
        ("[[a.md]]", [(WIKILINK, "a.md", "a.md", "", None)]),
        ("| [[a\\|b]] |", [(WIKILINK, "a", "a", "", "b")]),
        ("[[#Heading]]", [(WIKILINK, "", "", "#Heading", None)]),
        ("[[Sq]uare]]", [(WIKILINK, "Sq]uare", "Sq]uare", "", None)]),
        ("[[a [[b]] c]]", [(WIKILINK, "b", "b", "", None)]),
        ("[[a\nb]]", []),
        ("[[]]", []),
        ("**[[a]]**", [(WIKILINK, "a", "a", "", None)]),
        ("[[a]][[a]]", [(WIKILINK, "a", "a", "", None), (WIKILINK, "a", "a", "", None)]),
        ("[t](a.md)", [(MARKDOWN, "a.md", "a.md", "", "t")]),
        ("[t](My%20Note.md)", [(MARKDOWN, "My Note.md", "My%20Note.md", "", "t")]),
        ("[t](<My Note.md#H>)", [(MARKDOWN, "My Note.md", "My Note.md", "#H", "t")]),
        ("[t](../x.md)", [(MARKDOWN, "../x.md", "../x.md", "", "t")]),
        ('[t](a.md "title")', [(MARKDOWN, "a.md", "a.md", "", "t")]),
        ("![alt](pic.png)", [(MARKDOWN, "pic.png", "pic.png", "", "alt")]),
        ("[t](https://example.com/a.md)", []),
        ("[t](mailto:x@y)", []),
        ("[t](#local)", []),
        ("no links at all", []),
    ],
)
def test_body_links(body: str, expected: list[tuple]) -> None:
    note, links = links_of(body)
    got = [
        (lk.kind, lk.target, note.text[lk.target_start : lk.target_end], lk.subpath, lk.display)
        for lk in links
    ]
    assert got == expected


@pytest.mark.parametrize(
    ("body", "opaque"),
    [
        ("`[[a]]`", "code"),
        ("```\n[[a]]\n```", "code"),
        ("<!-- [[a]] -->", "html-comment"),
        ("$$\n[[a]]\n$$", "math"),
        ("%% [[a]] %%", None),
    ],
)
def test_links_in_opaque_regions_are_marked(body: str, opaque: str | None) -> None:
    _, links = links_of(body)
    assert [lk.opaque for lk in links] == [opaque]


@pytest.mark.parametrize(
    ("yaml", "expected"),
    [
        ('related: ["a", "b"]\n', [(BARE, "a", '"'), (BARE, "b", '"')]),
        ("related: [a, 'b']\n", [(BARE, "a", ""), (BARE, "b", "'")]),
        ('related:\n  - a # why\n  - "b"\n', [(BARE, "a", ""), (BARE, "b", '"')]),
        ("related: a\n", [(BARE, "a", "")]),
        ("related: []\n", []),
        ('other: ["a"]\n', []),
        ('up: "[[a]]"\n', [(PROPERTY, "a", '"')]),
        ("up: '[[a|x]]'\n", [(PROPERTY, "a", "'")]),
        ('links: ["[[a]]", "[[b#H]]"]\n', [(PROPERTY, "a", '"'), (PROPERTY, "b", '"')]),
        ('related: ["[[a]]"]\n', [(PROPERTY, "a", '"')]),
        ('note: "see [[a]] here"\n', [(PROPERTY, "a", '"')]),
        ('sourceUrl: "https://x.com/?ref=a"\n', []),
    ],
)
def test_frontmatter_links(yaml: str, expected: list[tuple]) -> None:
    note, links = links_of(f"---\n{yaml}---\nbody\n")
    assert [(lk.kind, lk.target, lk.quote) for lk in links] == expected
    for lk in links:
        assert note.text[lk.target_start : lk.target_end] == lk.target


def test_unquoted_link_in_yaml_is_flagged_not_followed() -> None:
    _, links = links_of("---\nrelated: [[a]]\n---\n")
    assert [(lk.target, lk.opaque, lk.is_link) for lk in links] == [("a", "unquoted-yaml", False)]


def test_offsets_are_exact_with_bom_and_crlf() -> None:
    raw = '\ufeff---\r\nrelated: ["x"]\r\n---\r\nSee [[y|Y]]\r\n'.encode()
    note = Note("n.md", raw)
    assert [note.text[lk.start : lk.end] for lk in note.links] == ["x", "[[y|Y]]"]
    assert note.line_col(note.links[1].start) == (4, 5)


# --- inline tags ---------------------------------------------------------------------------------------

INLINE_TAG_CASES = [
    ("no tags at all\n", set()),
    ("# A heading\n## Another\n", set()),  # a heading's `#` is followed by a space
    ("text #Tag and #nested/tag-1_x.\n", {"tag", "nested/tag-1_x"}),
    ("#start of a line\n", {"start"}),
    ("#1984 is no tag, #y1984 is\n", {"y1984"}),
    ("mid#word and [[note#heading]] and [x](y.md#frag)\n", set()),
    ("`#code` and\n```\n#block\n```\n$#math$ <!-- #comment -->\n", set()),
    ("[[note|see #inside]] but #outside\n", {"outside"}),
    ('---\ntags: ["front"]\nnote: "#notbody"\n---\nbody #Body\n', {"body"}),
    ("tab\t#tabbed, (#paren) #end/\n", {"tabbed", "end"}),
    ("#café #日本\n", {"café", "日本"}),
]


@pytest.mark.parametrize(("text", "expected"), INLINE_TAG_CASES)
def test_inline_tags(text: str, expected: set[str]) -> None:
    from vaulttools.links import inline_tags

    assert inline_tags(Note("n.md", text.encode())) == expected


# --- `_wikilinks`: the split read off the regex parts for plain and aliased links is the full parser's ---


# Every wikilink as `parse_wikilink_inner` reads the text between `[[` and `]]` of each `_WIKILINK_RE` match.
def _parsed_wikilinks(text: str) -> list[tuple]:
    from vaulttools.links import _WIKILINK_RE, parse_wikilink_inner

    found = []
    for match in _WIKILINK_RE.finditer(text):
        link = parse_wikilink_inner(match.group(1), match.start(1))
        if link is None:
            continue
        embed = match.start() > 0 and text[match.start() - 1] == "!"
        start = match.start() - embed
        fields = (link.target, link.target_start, link.target_end, link.subpath, link.display)
        found.append((EMBED if embed else WIKILINK, start, match.end(), *fields, *link[8:10], embed))
    return found


def _wikilink_fields(text: str) -> list[tuple]:
    from vaulttools.links import Link, wikilinks_in

    links = wikilinks_in(text, 0, len(text))
    assert all(type(link) is Link and len(link) == len(Link._fields) for link in links)
    assert all(link[10:13] == (None, "", "") and not any(link[14:]) for link in links)  # the fixed fields
    return [(*link[:10], link.embed) for link in links]


@pytest.mark.parametrize(
    "text",
    [
        "[[a]] [[ a ]] [[a|b]] [[ a |b]] [[a| b |c]] [[|b]] [[ |b]] [[]] [[ ]]",
        "![[a]] x![[a|200]] !![[b]]",
        "[[a#h]] [[a#h|x]] [[#h]] [[a #h ]] [[a\\|b]] [[a\\b]] [[a\\b|c]] [[\\|x]]",
        "[[a|b|c]] [[a|b#c]] [[a#b|c#d]] [[a [b] c]] [[a]b]] [[caf\u00e9|\u00e9]] [[🎉|x]]",
        "[[a\tb|c]] [[\u00a0a\u00a0|b]] [[a\u2003]]",  # whitespace `str.strip` takes
    ],
)
def test_wikilinks_are_the_full_parsers_links(text: str) -> None:
    assert _wikilink_fields(text) == _parsed_wikilinks(text)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.sampled_from(["[[", "]]", "[", "]", "|", "#", "\\", " ", "a", "é", "!", "\n", "\t", "^"]),
        max_size=16,
    ).map("".join)
)
def test_wikilinks_of_any_text_are_the_full_parsers_links(text: str) -> None:
    assert _wikilink_fields(text) == _parsed_wikilinks(text)
