"""The footer, cut to the terminal's width by what matters least, never losing `q` and `?`.

Textual's footer lists every key and clips what does not fit, so at 80 columns `q Quit` went
first. Here keys that do not apply to the selected job (greyed out) go first, then those
that have another way in (the palette, the filter, the log), then the rest from the right;
`?` lists them all.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.cells import cell_len
from textual import events
from textual.widget import Widget
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

KEPT = ("quit", "help")
"""Actions always shown."""
DROPPED_FIRST = ("command_palette", "filter", "toggle_log", "choose")
"""Actions dropped before the other job keys, in this order."""


def _width(key: FooterKey) -> int:
    """Cells a key takes in the (non-compact) footer: padding around the key, the label's."""
    padding = 4 if "-command-palette" in key.classes else 3
    return cell_len(key.key_display) + cell_len(key.description) + padding


def _action(key: FooterKey) -> str:
    return key.action.rpartition(".")[2]


def fitting(keys: list[FooterKey], width: int) -> list[FooterKey]:
    """The keys to show in ``width`` cells, in their order."""
    shown = list(keys)
    optional = [k for k in shown if _action(k) not in KEPT]
    order = [k for k in reversed(optional) if k.has_class("-disabled")]
    order += [k for a in DROPPED_FIRST for k in optional if _action(k) == a and k not in order]
    order += [k for k in reversed(optional) if k not in order]
    for key in order:
        if sum(_width(k) for k in shown) <= width:
            break
        shown.remove(key)
    return shown


class JobFooter(Footer):
    """The app's footer: the keys that fit, `q Quit` and `? Help` always among them."""

    def compose(self) -> Iterable[Widget]:
        widgets = list(super().compose())
        keys = [w for w in widgets if isinstance(w, FooterKey)]
        kept = set(map(id, fitting(keys, self.app.size.width)))
        return [w for w in widgets if not isinstance(w, FooterKey) or id(w) in kept]

    _composed_for = 0
    """The width the keys were chosen for."""

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width != self._composed_for:
            self._composed_for = event.size.width
            self.refresh(recompose=True)
