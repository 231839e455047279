"""How an item's text is stored: SQLite text cannot hold every string a file name can be."""

from __future__ import annotations


def is_text(value: str) -> bool:
    """Whether SQLite can keep ``value`` as text: not when it holds the lone surrogates that
    stand for a file name's bytes that are not UTF-8."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def to_db(item: str) -> str | bytes:
    """How an item is stored: text, or its bytes where it is not UTF-8 (``is_text``)."""
    return item if is_text(item) else item.encode("utf-8", "surrogateescape")


def from_db(value: str | bytes) -> str:
    """An item as stored, back to the string its command receives (see ``to_db``)."""
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value
