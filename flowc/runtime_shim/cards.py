"""Rendering a task's cards after its step ran: one self-contained HTML file per ``@card``.

Standard library only, like the rest of the shim: components (``flowc.cards``) render
themselves (``render_safely()``); this module lays out the page, the default card's artifact
table and flow picture, error cards, and where cards are stored.

A page carries its styles and scripts inline and refers to nothing outside itself, so it opens
offline and loads nothing from the network. Vega charts need Vega's JavaScript: it is inlined
from ``FLOWC_VEGA_JS`` (a ``node_modules`` directory holding ``vega``, ``vega-lite`` and
``vega-embed``, or a directory with their ``*.min.js``) or from the ``altair_viewer`` package;
without either, a chart shows its spec and says why it is not drawn.

Card types: Metaflow 2.19's ``default``, ``blank``, ``error`` and ``taskspec_card``, and the
``html`` card of the metaflow-card-html extension (the page is the ``html`` artifact, or the one
``options={"attribute": ...}`` names). ``current.card.refresh()`` re-renders the step's
``default``, ``blank`` and ``html`` cards while the task runs (``LiveCards``: a background thread,
at most once per ``refresh_interval``); the final render, after the step, replaces them. A failed
task keeps its last live render, as in Metaflow (final cards are rendered for tasks that succeed).

Files: ``<task>/cards/<n>.html`` and ``<task>/cards/index.json`` (``type``, ``id``, ``file``,
``hash`` of each), written before the task's ``DONE.json``. Rendering never fails the task: a
card that cannot be rendered (or takes longer than its ``timeout``) becomes an error card.
"""

from __future__ import annotations

import datetime
import functools
import glob
import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import html
import pprint
import reprlib
import time
import traceback

BUILTIN_TYPES = ("default", "blank", "html", "error", "taskspec_card")
LIVE_TYPES = ("default", "blank", "html")  # re-rendered by current.card.refresh()
# Metaflow's default card leaves out artifacts stored larger than this (option max_artifact_size)
MAX_ARTIFACT_SIZE = 256 << 20
# how often a live card may be re-rendered, whatever refresh_interval says (seconds)
MIN_REFRESH_INTERVAL = 0.5


def escape(value: Any) -> str:
    return html.escape(str(value), quote=True)


@dataclass
class CardSpec:
    """One ``@card`` of a step, with the components the step appended to it."""

    type: str = "default"
    id: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    timeout: float = 45
    components: list[Any] = field(default_factory=list)
    refresh_interval: float = 5
    live: "LiveCards | None" = None  # set while the task runs, for current.card.refresh()


@dataclass(frozen=True)
class TaskFacts:
    """What the default card shows about the task."""

    pathspec: str
    attempt: int
    manifest: Any
    step: str
    artifacts: Mapping[str, Any]  # name -> value, or a text stand-in for values not loaded
    sizes: Mapping[str, int] = field(default_factory=dict)  # stored sizes, once saved
    final: bool = True  # False for a live render while the step runs


# --------------------------------------------------------------------------- page


_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#1d2330;background:#fff}
h1{font-size:20px;margin:0 0 4px}.sub{color:#5b6475;margin-bottom:18px;font-size:13px}
h2{font-size:16px;margin:22px 0 8px;border-bottom:1px solid #e3e6ec;padding-bottom:4px}
.component{margin:12px 0}table{border-collapse:collapse;font-size:13px}
th,td{border:1px solid #d5d9e2;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f3f5f9}
pre{background:#f6f8fa;padding:8px;overflow:auto;font-size:12px;margin:4px 0}
.error-box{border:1px solid #d33;background:#fff1f1;color:#8a1010;padding:8px}
.label{font-weight:600}.type{color:#5b6475;font-size:12px}progress{width:240px;margin-right:8px}
figure{margin:0}figure img{max-width:100%}figcaption{color:#5b6475;font-size:12px}
svg.dag text{font-size:12px;font-family:inherit}.vega-chart{min-height:40px}
"""

_DRAW_VEGA = """
function flowcDrawVega(id, options) {
  var el = document.getElementById(id);
  var spec = JSON.parse(document.getElementById(id + "-spec").textContent);
  if (typeof vegaEmbed === "undefined") {
    el.setAttribute("data-error", "no-vega");
    el.innerHTML = "<div class='error-box'>Vega chart not drawn: no Vega JavaScript was available " +
      "when this card was rendered (set FLOWC_VEGA_JS). Spec:</div><pre></pre>";
    el.querySelector("pre").textContent = JSON.stringify(spec, null, 1);
    return;
  }
  vegaEmbed(el, spec, options).then(function () { el.setAttribute("data-drawn", "1"); })
    .catch(function (err) { el.setAttribute("data-error", String(err)); el.textContent = "Vega error: " + err; });
}
"""


def vega_scripts() -> list[str] | None:
    """The text of vega, vega-lite and vega-embed (in that order), or None when not found."""
    names = ("vega", "vega-lite", "vega-embed")
    root = os.environ.get("FLOWC_VEGA_JS")
    candidates: list[list[str]] = []
    if root:
        candidates.append([os.path.join(root, n, "build", f"{n}.min.js") for n in names])
        candidates.append([os.path.join(root, f"{n}.min.js") for n in names])
    try:
        import altair_viewer  # type: ignore[import-not-found]

        scripts = os.path.join(os.path.dirname(altair_viewer.__file__), "scripts")
        candidates.append([_newest(os.path.join(scripts, f"{n}@*.js")) for n in names])
    except ImportError:
        pass
    for paths in candidates:
        if all(p and os.path.isfile(p) for p in paths):
            texts = []
            for path in paths:
                with open(path, encoding="utf-8") as handle:
                    texts.append(handle.read())
            return texts
    return None


def _newest(pattern: str) -> str:
    found = sorted(glob.glob(pattern))
    return found[-1] if found else ""


def _inline_script(source: str) -> str:
    return "<script>" + source.replace("</script", "<\\/script") + "</script>"


def page(title: str, subtitle: str, body: str) -> str:
    """A complete HTML document; Vega's scripts are inlined only when the body has a chart."""
    scripts = ""
    if 'class="vega-chart"' in body:
        scripts = "".join(_inline_script(s) for s in (vega_scripts() or [])) + _inline_script(_DRAW_VEGA)
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}</title><style>{_STYLE}</style>{scripts}</head>"
            f"<body><h1>{escape(title)}</h1><div class=\"sub\">{escape(subtitle)}</div>{body}</body></html>\n")


# --------------------------------------------------------------------------- the DAG picture


def _depths(manifest: Any) -> dict[str, int]:
    """Longest distance from ``start`` along the flow's edges (loops back are ignored)."""
    edges = {s.name: list(s.transition.targets) for s in manifest.steps}
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(name: str) -> None:
        state[name] = 1
        for target in edges.get(name, ()):
            if state.get(target, 0) == 0:
                visit(target)
        state[name] = 2
        order.append(name)

    for step in manifest.steps:
        if state.get(step.name, 0) == 0:
            visit(step.name)
    position = {name: i for i, name in enumerate(reversed(order))}
    depth = {name: 0 for name in position}
    for name in reversed(order):
        for target in edges.get(name, ()):
            if position[target] > position[name]:
                depth[target] = max(depth[target], depth[name] + 1)
    return depth


def dag_svg(manifest: Any, highlight: str) -> str:
    """The flow's graph as inline SVG, top to bottom, with ``highlight`` filled."""
    depth = _depths(manifest)
    rows: dict[int, list[str]] = {}
    for step in manifest.steps:
        rows.setdefault(depth[step.name], []).append(step.name)
    box_w, box_h, gap_x, gap_y = 150, 34, 30, 36
    widest = max(len(r) for r in rows.values())
    width = widest * (box_w + gap_x) + gap_x
    height = len(rows) * (box_h + gap_y) + gap_y
    centre: dict[str, tuple[float, float]] = {}
    for level, names in rows.items():
        offset = (width - len(names) * (box_w + gap_x) + gap_x) / 2
        for i, name in enumerate(names):
            centre[name] = (offset + i * (box_w + gap_x) + box_w / 2, gap_y + level * (box_h + gap_y) + box_h / 2)
    parts = [f'<svg class="dag" xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
             f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="flow graph">',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
             'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#7a8396"/></marker></defs>']
    for step in manifest.steps:
        x1, y1 = centre[step.name]
        for target in step.transition.targets:
            x2, y2 = centre[target]
            if y2 > y1:
                parts.append(f'<line x1="{x1:.0f}" y1="{y1 + box_h / 2:.0f}" x2="{x2:.0f}" y2="{y2 - box_h / 2:.0f}" '
                             'stroke="#7a8396" marker-end="url(#arrow)"/>')
            else:  # a loop back (recursion): an arc on the right
                parts.append(f'<path d="M{x1 + box_w / 2:.0f},{y1:.0f} C{x1 + box_w / 2 + 40:.0f},{y1:.0f} '
                             f'{x2 + box_w / 2 + 40:.0f},{y2:.0f} {x2 + box_w / 2:.0f},{y2:.0f}" fill="none" '
                             'stroke="#7a8396" marker-end="url(#arrow)"/>')
    for step in manifest.steps:
        x, y = centre[step.name]
        current = step.name == highlight
        fill, stroke, text = ("#2f6fde", "#1d4fa8", "#fff") if current else ("#f3f5f9", "#b8bfcc", "#1d2330")
        parts.append(f'<g class="step{" current" if current else ""}" data-step="{escape(step.name)}">'
                     f'<rect x="{x - box_w / 2:.0f}" y="{y - box_h / 2:.0f}" width="{box_w}" height="{box_h}" '
                     f'rx="6" fill="{fill}" stroke="{stroke}"/>'
                     f'<text x="{x:.0f}" y="{y + 4:.0f}" text-anchor="middle" fill="{text}">{escape(step.name)}</text></g>')
    parts.append("</svg>")
    return "".join(parts)


# --------------------------------------------------------------------------- cards


def render_component(component: Any) -> str:
    """A component's HTML (``flowc.cards`` components render themselves); a plain string, which
    Metaflow also accepts, is a paragraph."""
    if hasattr(component, "render_safely"):
        return str(component.render_safely())
    return f'<div class="component text"><p>{escape(component)}</p></div>'


def _components(components: list[Any]) -> str:
    return "".join(render_component(c) for c in components)


def table_html(rows: list[list[Any]], headers: list[str]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def error_html(error: Any, title: str | None = None) -> str:
    """An exception (with its traceback) or a message, in a red box."""
    if isinstance(error, BaseException):
        text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    else:
        text = str(error)
    heading = f"<strong>{escape(title)}</strong>" if title else ""
    return f'<div class="error-box">{heading}<pre>{escape(text)}</pre></div>'


def _default_body(card: CardSpec, facts: TaskFacts) -> str:
    """The components, then the artifacts (Metaflow's options ``only_repr``, default True, and
    ``max_artifact_size``), image artifacts as images, DataFrames as tables, and the flow."""
    only_repr = bool(card.options.get("only_repr", True))
    limit = int(card.options.get("max_artifact_size") or MAX_ARTIFACT_SIZE)
    rows, images, tables = [], [], []
    for name, value in sorted(facts.artifacts.items()):
        size = facts.sizes.get(name)
        if size is not None and size > limit:
            rows.append([name, "skipped", f"<artifact too large: {size} bytes, max: {limit} bytes>"])
            continue
        kind = value.type_name if isinstance(value, _NotLoaded) else type(value).__name__
        rows.append([name, kind, _shown(value, only_repr)])
        if _image_type(value):
            images.append(_image_html(name, value))
        elif _is_dataframe(value):
            tables.append(_dataframe_html(name, value))
    body = [_components(card.components), "<h2>Artifacts</h2>",
            f'<div class="component table">{table_html(rows, ["name", "type", "value"])}</div>']
    if images:
        body += ["<h2>Images</h2>", *images]
    body += tables
    body += [f"<h2>Flow</h2>{dag_svg(facts.manifest, facts.step)}"]
    return "".join(body)


_IMAGE_MAGIC = ((b"\x89PNG\r\n\x1a\n", "png"), (b"\xff\xd8\xff", "jpeg"), (b"GIF87a", "gif"),
                (b"GIF89a", "gif"))


def _image_type(value: Any) -> str | None:
    """png, jpeg, gif or webp for bytes holding such an image (the formats Metaflow shows)."""
    if not isinstance(value, bytes):
        return None
    if value[:4] == b"RIFF" and value[8:12] == b"WEBP":
        return "webp"
    return next((kind for magic, kind in _IMAGE_MAGIC if value.startswith(magic)), None)


def _image_html(name: str, value: bytes) -> str:
    import base64

    uri = f"data:image/{_image_type(value)};base64,{base64.b64encode(value).decode('ascii')}"
    return (f'<div class="component image"><figure><img src="{uri}" alt="{escape(name)}">'
            f"<figcaption>{escape(name)}</figcaption></figure></div>")


def _is_dataframe(value: Any) -> bool:
    kind = type(value)
    return kind.__name__ == "DataFrame" and kind.__module__.split(".")[0] == "pandas"


def _dataframe_html(name: str, frame: Any, shown: int = 5) -> str:
    """A DataFrame's first rows under its index, as Metaflow's default card shows one."""
    rows_total, columns = frame.shape
    head = frame.head(shown)
    rows = [[index, *values] for index, values in zip(head.index.tolist(), head.values.tolist())]
    title = f"Artifact Name: {name}"
    note = ""
    if rows_total > len(rows):
        title += f" ({columns} columns and {rows_total} rows)"
        note = f"<p><em>Truncated - {rows_total - len(rows)} rows not shown</em></p>"
    table = table_html(rows, ["", *[str(c) for c in frame.columns]])
    return f'<h2>{escape(title)}</h2><div class="component table">{table}</div>{note}'


@dataclass(frozen=True)
class _NotLoaded:
    """An artifact the task did not touch: shown by size, not loaded just for the card."""

    type_name: str
    size: int

    def __repr__(self) -> str:
        return f"<unchanged, {self.size} bytes stored>"


def not_loaded(size: int) -> _NotLoaded:
    return _NotLoaded("(inherited)", size)


def _repr() -> reprlib.Repr:
    """Metaflow's default card shortens values with these limits."""
    shortener = reprlib.Repr()
    shortener.maxarray = shortener.maxstring = shortener.maxother = 100
    shortener.maxtuple = shortener.maxlist = 100
    shortener.maxlevel = 3
    return shortener


def _shown(value: Any, only_repr: bool = True) -> str:
    """An artifact's text on the default card: shortened, pretty-printed when it was not
    (``only_repr``, Metaflow's default); without ``only_repr`` pretty-printed in full."""
    if isinstance(value, _NotLoaded):
        return repr(value)
    try:
        if not only_repr:
            return pprint.pformat(value, indent=2, width=50, compact=True)
        text = _repr().repr(value)
        return text if "..." in text else pprint.pformat(value, indent=2, width=50, compact=True)
    except Exception as exc:  # noqa: BLE001 - a repr that fails is shown as such
        return f"<repr failed: {exc}>"


def render_card(card: CardSpec, facts: TaskFacts) -> str:
    """The page of one card; raises only for bugs, which the caller turns into an error card."""
    title = f"{card.type} card" + (f" '{card.id}'" if card.id else "")
    subtitle = f"{facts.pathspec} (attempt {facts.attempt})"
    if card.type == "default":
        return page(title, subtitle, _default_body(card, facts))
    if card.type == "blank":  # Metaflow's option: a title over the components
        heading = f"<h2>{escape(card.options['title'])}</h2>" if card.options.get("title") else ""
        return page(title, subtitle, heading + _components(card.components))
    if card.type == "html":
        return _html_card(card, facts, title, subtitle)
    if card.type == "error":  # Metaflow's error card asked for by type: no error to show
        return page("Error Card", facts.pathspec,
                    f'<h2>Card Render Failed With Error</h2><pre>{escape(None)}</pre>')
    if card.type == "taskspec_card":
        return facts.pathspec
    return error_page(card, facts, f"card type {card.type!r} is not available in flowc "
                                   f"(built in: {', '.join(BUILTIN_TYPES)})")


def _html_card(card: CardSpec, facts: TaskFacts, title: str, subtitle: str) -> str:
    """metaflow-card-html: the artifact named by ``options["attribute"]`` (``html``) is the page,
    as given; until the step sets it, a page saying so."""
    name = str(card.options.get("attribute", "html"))
    value = facts.artifacts.get(name)
    if value is not None and not isinstance(value, _NotLoaded):
        return str(value)
    return page(title, subtitle, f"<p>no html specified: the step has not set self.{escape(name)}</p>"
                                 f"{_components(card.components)}")


def error_page(card: CardSpec, facts: TaskFacts, error: Any) -> str:
    """Metaflow's answer to a card that cannot be rendered: a card that shows the error."""
    body = f'<div class="component error">{error_html(error, f"the {card.type} card could not be rendered")}</div>'
    return page(f"error card ({card.type}" + (f" '{card.id}'" if card.id else "") + ")",
                f"{facts.pathspec} (attempt {facts.attempt})", body)


def _with_timeout(work: Callable[[], str], seconds: float) -> str:
    """``work()`` on a daemon thread; TimeoutError if it takes longer than ``seconds``."""
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["html"] = work()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            result["error"] = exc

    worker = threading.Thread(target=run, daemon=True, name="flowc-card")
    worker.start()
    worker.join(seconds if seconds and seconds > 0 else None)
    if worker.is_alive():
        raise TimeoutError(f"rendering took longer than the card's timeout of {seconds:g} seconds")
    if "error" in result:
        raise result["error"]
    return result["html"]


def render_all(cards: list[CardSpec], facts: TaskFacts) -> list[tuple[CardSpec, str]]:
    """Every card's page; a failing card becomes its error card, so this never raises."""
    pages = []
    for card in cards:
        if not facts.final:  # a live render draws from a copy: the step goes on appending
            card = CardSpec(card.type, card.id, card.options, card.timeout, list(card.components))
        try:
            text = _with_timeout(functools.partial(render_card, card, facts), float(card.timeout or 0))
        except Exception as exc:  # noqa: BLE001 - an error card instead of a failed task
            text = error_page(card, facts, exc)
        pages.append((card, text))
    return pages


class LiveCards:
    """Re-renders a running task's cards when the step calls ``current.card.refresh()``.

    ``request()`` only marks the cards stale; a daemon thread (started on the first request)
    renders them at most once per ``interval`` seconds, from ``facts()`` (what the step has set
    so far), and stores them where the final cards go. ``close()`` stops it before the final
    render: no live page is written after that, so the final render wins.
    """

    def __init__(self, cards: list[CardSpec], facts: Callable[[], TaskFacts], save: Callable[[list[Any]], Any],
                 interval: float):
        self.cards, self._facts, self._save = cards, facts, save
        self.interval = max(float(interval), MIN_REFRESH_INTERVAL)
        self.renders = 0
        self._stale = threading.Event()
        self._lock = threading.Lock()
        self._closed = False
        self._thread: threading.Thread | None = None

    def request(self) -> None:
        with self._lock:
            if self._closed:
                return
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, daemon=True, name="flowc-live-cards")
                self._thread.start()
        self._stale.set()

    def _loop(self) -> None:
        last = 0.0
        while self._stale.wait():
            pause = last + self.interval - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            self._stale.clear()
            with self._lock:
                if self._closed:
                    return
            self._render_once()
            last = time.monotonic()

    def _render_once(self) -> None:
        try:
            pages = render_all(self.cards, self._facts())
        except Exception:  # noqa: BLE001 - a live card is best effort; the final render follows
            return
        with self._lock:
            if not self._closed:
                self._save(pages)
                self.renders += 1

    def close(self) -> None:
        """Stop rendering; waits for a save under way (never for a render)."""
        with self._lock:
            self._closed = True
        self._stale.set()


# --------------------------------------------------------------------------- storage


def cards_key(task_key: str) -> str:
    return f"{task_key}/cards"


def save_cards(store: Any, task: Any, pages: list[tuple[CardSpec, str]]) -> list[dict[str, Any]]:
    """Write each page, then the index naming them (the index last: readers trust it)."""
    base = cards_key(store.task_key(task))
    index = []
    for number, (card, text) in enumerate(pages):
        data = text.encode("utf-8")
        name = f"{number}.html"
        store.backend.put_bytes(f"{base}/{name}", data)
        index.append({"type": card.type, "id": card.id, "file": name,
                      "hash": hashlib.sha256(data).hexdigest()[:16],
                      "created_at": datetime.datetime.now(datetime.timezone.utc).isoformat()})
    if index:
        store.backend.put_bytes(f"{base}/index.json", json.dumps(index, indent=1).encode("utf-8"))
    return index


def read_index(store: Any, task: Any) -> list[dict[str, Any]]:
    raw = store.backend.get_bytes(f"{cards_key(store.task_key(task))}/index.json")
    return json.loads(raw) if raw else []


def read_card(store: Any, task: Any, name: str) -> str | None:
    raw = store.backend.get_bytes(f"{cards_key(store.task_key(task))}/{name}")
    return raw.decode("utf-8") if raw is not None else None


__all__ = ["CardSpec", "TaskFacts", "LiveCards", "render_all", "save_cards", "read_index", "read_card",
           "dag_svg", "page", "vega_scripts", "not_loaded"]
