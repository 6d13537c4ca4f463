"""Card components with Metaflow's names and constructors (``from metaflow.cards import ...``).

Each renders itself to an HTML fragment; nothing a component renders refers to the network
(images are data URIs, charts draw with the page's inline Vega scripts). A component that
fails to render becomes an error box, never a failed card.
"""

from __future__ import annotations

import base64
import html
import io
import json
import traceback
from typing import Any

from flowc.cards.markdown import markdown_to_html


def escape(value: Any) -> str:
    return html.escape(str(value), quote=True)


class MetaflowCardComponent:
    """The base of every component; ``id`` lets ``current.card.components[id]`` find it."""

    kind = "component"

    def __init__(self) -> None:
        self.component_id: str | None = None

    @property
    def id(self) -> str | None:
        return self.component_id

    @id.setter
    def id(self, value: str | None) -> None:
        self.component_id = value

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Components that change (ProgressBar, Markdown, ...) override this."""

    def render(self) -> str:
        raise NotImplementedError

    def render_safely(self) -> str:
        try:
            body = self.render()
        except Exception as exc:  # noqa: BLE001 - a broken component must not break the card
            body = Error(exc, title=f"{type(self).__name__} could not be rendered").render()
        return f'<div class="component {self.kind}">{body}</div>'


UserComponent = MetaflowCardComponent


class Markdown(MetaflowCardComponent):
    kind = "markdown"

    def __init__(self, text: str | None = None):
        super().__init__()
        self.text = text or ""

    def update(self, text: str | None = None) -> None:
        self.text = text or ""

    def render(self) -> str:
        return markdown_to_html(self.text)


class Artifact(MetaflowCardComponent):
    """An artifact's value, shown as its (truncated) repr, optionally under a name."""

    kind = "artifact"
    LIMIT = 2000

    def __init__(self, artifact: Any, name: str | None = None, compressed: bool = True):
        super().__init__()
        self.artifact, self.name, self.compressed = artifact, name, compressed

    def update(self, artifact: Any) -> None:
        self.artifact = artifact

    def render(self) -> str:
        text = repr(self.artifact)
        if self.compressed and len(text) > self.LIMIT:
            text = text[: self.LIMIT] + " ..."
        label = f'<div class="label">{escape(self.name)}</div>' if self.name else ""
        return f'{label}<div class="type">{escape(type(self.artifact).__name__)}</div><pre>{escape(text)}</pre>'


class Table(MetaflowCardComponent):
    """Rows of cells; a cell may be a value or another component."""

    kind = "table"

    def __init__(self, data: list[list[Any]] | None = None, headers: list[str] | None = None,
                 disable_updates: bool = False):
        super().__init__()
        self.data = [list(row) for row in (data or [])]
        self.headers = list(headers or [])

    def update(self, data: list[list[Any]] | None = None, headers: list[str] | None = None) -> None:
        if data is not None:
            self.data = [list(row) for row in data]
        if headers is not None:
            self.headers = list(headers)

    @classmethod
    def from_dataframe(cls, dataframe: Any, truncate: bool = True) -> "Table":
        frame = dataframe.head(100) if truncate else dataframe
        return cls([list(row) for row in frame.itertuples(index=False)], [str(c) for c in frame.columns])

    def render(self) -> str:
        head = "".join(f"<th>{escape(h)}</th>" for h in self.headers)
        rows = "".join("<tr>" + "".join(f"<td>{_cell(c)}</td>" for c in row) + "</tr>" for row in self.data)
        return f"<table>{f'<thead><tr>{head}</tr></thead>' if head else ''}<tbody>{rows}</tbody></table>"


def _cell(value: Any) -> str:
    if isinstance(value, MetaflowCardComponent):
        return value.render_safely()
    return escape(value)


_IMAGE_TYPES = ((b"\x89PNG", "image/png"), (b"\xff\xd8", "image/jpeg"), (b"GIF8", "image/gif"),
                (b"<svg", "image/svg+xml"), (b"<?xml", "image/svg+xml"), (b"RIFF", "image/webp"))


class Image(MetaflowCardComponent):
    """An image from bytes (PNG, JPEG, GIF, SVG, WebP), embedded as a data URI."""

    kind = "image"

    def __init__(self, src: bytes | None = None, label: str | None = None, disable_updates: bool = True):
        super().__init__()
        self.src, self.label = src, label

    def update(self, image: bytes, label: str | None = None) -> None:
        self.src = image
        if label is not None:
            self.label = label

    @classmethod
    def from_matplotlib(cls, plot: Any, label: str | None = None, disable_updates: bool = True) -> "Image":
        """A matplotlib Figure or Axes (or anything with ``.figure`` / ``savefig``) as a PNG."""
        figure = getattr(plot, "figure", None) if not hasattr(plot, "savefig") else plot
        figure = getattr(figure, "figure", figure) if not hasattr(figure, "savefig") else figure
        if figure is None or not hasattr(figure, "savefig"):
            raise TypeError(f"Image.from_matplotlib takes a matplotlib figure or axes, got {type(plot).__name__}")
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        return cls(buffer.getvalue(), label)

    @classmethod
    def from_pil_image(cls, pilimage: Any, label: str | None = None, disable_updates: bool = True) -> "Image":
        buffer = io.BytesIO()
        pilimage.save(buffer, format="PNG")
        return cls(buffer.getvalue(), label)

    def render(self) -> str:
        if not isinstance(self.src, (bytes, bytearray)):
            raise TypeError(f"Image takes bytes, got {type(self.src).__name__}")
        data = bytes(self.src)
        mime = next((m for magic, m in _IMAGE_TYPES if data.lstrip()[:len(magic)] == magic), None)
        if mime is None:
            raise ValueError("Image bytes are not PNG, JPEG, GIF, SVG or WebP")
        uri = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
        label = f"<figcaption>{escape(self.label)}</figcaption>" if self.label else ""
        return f'<figure><img src="{uri}" alt="{escape(self.label or "image")}">{label}</figure>'


class ProgressBar(MetaflowCardComponent):
    kind = "progress"

    def __init__(self, max: int = 100, label: str | None = None, value: int = 0,  # noqa: A002
                 unit: str | None = None, metadata: str | None = None):
        super().__init__()
        self.max, self.label, self.value, self.unit, self.metadata = max, label, value, unit, metadata

    def update(self, new_value: int, metadata: str | None = None) -> None:
        self.value = new_value
        if metadata is not None:
            self.metadata = metadata

    def render(self) -> str:
        unit = f" {escape(self.unit)}" if self.unit else ""
        label = f'<div class="label">{escape(self.label)}</div>' if self.label else ""
        meta = f'<div class="meta">{escape(self.metadata)}</div>' if self.metadata else ""
        return (f'{label}<progress max="{escape(self.max)}" value="{escape(self.value)}"></progress>'
                f'<span class="count">{escape(self.value)}/{escape(self.max)}{unit}</span>{meta}')


class Error(MetaflowCardComponent):
    """An exception (or message) in a red box, with its traceback when there is one."""

    kind = "error"

    def __init__(self, exception: Any, title: str | None = None):
        super().__init__()
        self.exception, self.title = exception, title

    def render(self) -> str:
        exc = self.exception
        if isinstance(exc, BaseException):
            text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        else:
            text = str(exc)
        title = f"<strong>{escape(self.title)}</strong>" if self.title else ""
        return f'<div class="error-box">{title}<pre>{escape(text)}</pre></div>'


class VegaChart(MetaflowCardComponent):
    """A Vega or Vega-Lite spec (a dict, or an Altair chart), drawn by the page's inline Vega."""

    kind = "vega"
    _count = 0

    def __init__(self, spec: dict[str, Any], show_controls: bool = False):
        super().__init__()
        self.spec, self.show_controls = spec, show_controls

    def update(self, spec: dict[str, Any] | None = None) -> None:
        if spec is not None:
            self.spec = spec

    @classmethod
    def from_altair_chart(cls, altair_chart: Any) -> "VegaChart":
        return cls(altair_chart.to_dict())

    def render(self) -> str:
        spec = self.spec.to_dict() if hasattr(self.spec, "to_dict") else self.spec
        VegaChart._count += 1
        element = f"vega-chart-{VegaChart._count}"
        payload = json.dumps(spec, default=str).replace("</", "<\\/")
        options = json.dumps({"actions": bool(self.show_controls), "renderer": "svg"})
        return (f'<div class="vega-chart" id="{element}"></div>'
                f'<script type="application/json" id="{element}-spec">{payload}</script>'
                f'<script>flowcDrawVega("{element}", {options});</script>')


def as_component(value: Any) -> MetaflowCardComponent:
    """Metaflow accepts plain strings in ``current.card.append``: they become Markdown."""
    if isinstance(value, MetaflowCardComponent):
        return value
    return Markdown(str(value))
