"""How an item's text is stored: SQLite text cannot hold every string a file name can be."""

from __future__ import annotations


def to_db(item: str) -> str | bytes:
    """How an item is stored: text, or its bytes where it is not UTF-8 (SQLite text cannot
    hold the lone surrogates that stand for those bytes)."""
    try:
        item.encode("utf-8")
    except UnicodeEncodeError:
        return item.encode("utf-8", "surrogateescape")
    return item


def from_db(value: str | bytes) -> str:
    """An item as stored, back to the string its command receives (see ``to_db``)."""
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value
