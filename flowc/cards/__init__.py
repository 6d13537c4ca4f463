"""Cards: ``@card`` pages rendered after a task, and reading them back (``metaflow.cards``).

``from metaflow.cards import Markdown, Table, Image, Artifact, VegaChart, ProgressBar, Error``
builds components; ``current.card.append(...)`` adds them to the step's card; ``get_cards(task)``
(or ``Task.cards``) returns the rendered pages. Rendering is in :mod:`flowc.cards.render`.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any, Iterator

from flowc.cards.components import (Artifact, Error, Image, Markdown, MetaflowCardComponent,
                                    ProgressBar, Table, UserComponent, VegaChart)

__all__ = ["Markdown", "Table", "Image", "Artifact", "VegaChart", "ProgressBar", "Error",
           "MetaflowCardComponent", "UserComponent", "get_cards", "Card", "CardContainer"]


class Card:
    """One rendered card of a task: ``.type``, ``.id``, ``.hash``, ``get()`` (the HTML),
    ``.path`` (a local file holding it) and ``view()`` (open it in a browser)."""

    def __init__(self, task: Any, entry: dict[str, Any]):
        self._task = task
        self.type: str = entry["type"]
        self.id: str | None = entry.get("id")
        self.hash: str = entry.get("hash", "")
        self._file: str = entry["file"]
        self._html: str | None = None
        self._path: str | None = None

    def get(self) -> str:
        if self._html is None:
            from flowc.cards.render import read_card

            text = read_card(self._task._store, self._task.key, self._file)
            if text is None:
                from flowc.exceptions import MetaflowNotFound

                raise MetaflowNotFound(f"card {self._file} of {self._task.pathspec} is missing")
            self._html = text
        return self._html

    @property
    def html(self) -> str:
        return self.get()

    @property
    def path(self) -> str:
        """The card as a local file: in a local datastore the stored file itself, otherwise a
        temporary copy."""
        if self._path is None:
            from flowc.cards.render import cards_key

            store = self._task._store
            local = os.path.join(store.root, *cards_key(store.task_key(self._task.key)).split("/"), self._file)
            if os.path.isfile(local):
                self._path = local
            else:
                handle, self._path = tempfile.mkstemp(prefix="flowc-card-", suffix=".html")
                with os.fdopen(handle, "w", encoding="utf-8") as out:
                    out.write(self.get())
        return self._path

    def view(self) -> None:
        import webbrowser

        webbrowser.open("file://" + self.path)

    def _repr_html_(self) -> str:
        return self.get()

    def __repr__(self) -> str:
        return f"<Card type={self.type} id={self.id} of {self._task.pathspec}>"


class CardContainer:
    """The cards of a task, in the order of the step's ``@card`` decorators."""

    def __init__(self, cards: list[Card]):
        self._cards = cards

    def __len__(self) -> int:
        return len(self._cards)

    def __iter__(self) -> Iterator[Card]:
        return iter(self._cards)

    def __getitem__(self, index: int) -> Card:
        return self._cards[index]

    def _repr_html_(self) -> str:
        return "".join(card.get() for card in self._cards)


def get_cards(task: Any, id: str | None = None, type: str | None = None,  # noqa: A002
              follow_resumed: bool = True) -> CardContainer:
    """The cards of ``task`` (a client Task or its pathspec), optionally only those with this
    ``id`` or ``type``. A task cloned by ``resume`` shows its origin's cards."""
    from flowc.cards.render import read_index
    from flowc.client import Task

    if isinstance(task, str):
        task = Task(task)
    entries = read_index(task._store, task.key)
    if not entries and follow_resumed and task.origin_pathspec:
        origin = Task(task.origin_pathspec, task._store, _namespace_check=False)
        return get_cards(origin, id, type, follow_resumed=False)
    chosen = [Card(task, e) for e in entries
              if (id is None or e.get("id") == id) and (type is None or e.get("type") == type)]
    return CardContainer(chosen)
