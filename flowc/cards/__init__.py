"""Cards: ``@card`` pages rendered after a task, and reading them back (``metaflow.cards``).

``from metaflow.cards import Markdown, Table, Image, Artifact, VegaChart, ProgressBar, Error``
builds components; ``current.card.append(...)`` adds them to the step's card; ``get_cards(task)``
(or ``Task.cards``) returns the rendered pages. The shim renders and stores the pages
(:mod:`flowc.runtime_shim.cards`); reading them is the client's (``get_cards``, ``Card``).
"""

from __future__ import annotations

from typing import Any

from flowc.cards.components import (Artifact, Error, Image, Markdown, MetaflowCardComponent,
                                    ProgressBar, Table, UserComponent, VegaChart)

__all__ = ["Markdown", "Table", "Image", "Artifact", "VegaChart", "ProgressBar", "Error",
           "MetaflowCardComponent", "UserComponent", "get_cards", "Card", "CardContainer"]

_CLIENT_NAMES = frozenset({"get_cards", "Card", "CardContainer"})


def __getattr__(name: str) -> Any:
    """``get_cards``, ``Card`` and ``CardContainer`` live with the client (they read the
    datastore); imported on first use so building components stays cheap."""
    if name in _CLIENT_NAMES:
        from flowc import client

        return getattr(client, name)
    raise AttributeError(f"module 'flowc.cards' has no attribute {name!r}")
