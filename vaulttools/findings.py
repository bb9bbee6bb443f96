"""The kinds of finding `check` reports (text core: names only). The configuration and `--kind` options
validate against them without loading `check` and the vault it builds on."""

from __future__ import annotations

BROKEN_LINK = "broken-link"
MISSING_ATTACHMENT = "missing-attachment"
AMBIGUOUS_LINK = "ambiguous-link"
BAD_FRONTMATTER = "unparsable-frontmatter"
UNREADABLE = "unreadable-note"
DUPLICATE_ID = "duplicate-id"
ID_MISMATCH = "id-differs-from-name"
UNQUOTED_LINK = "unquoted-frontmatter-link"
BROKEN_CANVAS_LINK = "broken-canvas-link"  # a canvas's file node or text-node link to no file
BAD_CANVAS = "unparsable-canvas"
PROPERTY_TYPE = "property-type"  # values of another type than `.obsidian/types.json` declares

FINDING_KINDS = (
    BROKEN_LINK,
    MISSING_ATTACHMENT,
    AMBIGUOUS_LINK,
    BAD_FRONTMATTER,
    UNREADABLE,
    DUPLICATE_ID,
    ID_MISMATCH,
    UNQUOTED_LINK,
    BROKEN_CANVAS_LINK,
    BAD_CANVAS,
    PROPERTY_TYPE,
)
