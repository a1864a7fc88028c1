"""HTML building blocks for the report: escaping, number formats, tables, sections, the page."""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence

__all__ = ["Raw", "esc", "num", "pct", "sci", "fmt", "table", "section", "figure", "note",
           "badge", "page"]


class Raw(str):
    """A string of HTML that is already safe (built here, never read from a file)."""


def esc(value) -> str:
    """html.escape(str(value)); a Raw string passes through unchanged."""
    if isinstance(value, Raw):
        return value
    return html.escape("" if value is None else str(value), quote=True)


def num(value) -> float | None:
    """A finite float, or None for anything else (None, bool, text, NaN, inf).

    >>> num(0.25), num("0.25"), num(True), num(float("nan")), num(None)
    (0.25, None, None, None, None)
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def pct(value, digits: int = 1) -> str:
    """A fraction as a percentage, "—" if not a number: pct(0.1234) == '12.3%'."""
    v = num(value)
    return "—" if v is None else f"{100 * v:.{digits}f}%"


def sci(value) -> str:
    """Scientific notation, "—" if not a number: sci(3e-9) == '3.00e-09'."""
    v = num(value)
    return "—" if v is None else f"{v:.2e}"


def fmt(value) -> str:
    """A compact display of a JSON value (floats with 4 significant digits).

    >>> fmt(0.000123456), fmt(12), fmt(0.5), fmt(None), fmt([1, 2])
    ('0.0001235', '12', '0.5', '—', '[1, 2]')
    """
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return str(value)


def table(headers: Sequence, rows: Iterable[Sequence], *, cls: str = "",
          row_classes: Sequence[str] | None = None) -> Raw:
    """A <table>; cells are escaped unless they are Raw."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        rc = row_classes[i] if row_classes and i < len(row_classes) and row_classes[i] else ""
        cells = "".join(f"<td>{esc(c)}</td>" for c in row)
        body.append(f'<tr class="{esc(rc)}">{cells}</tr>' if rc else f"<tr>{cells}</tr>")
    attr = f' class="{esc(cls)}"' if cls else ""
    return Raw(f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}"
               "</tbody></table>")


def section(sid: str, title: str, body: str) -> Raw:
    """A <section id=sid> with an <h2> title."""
    return Raw(f'<section id="{esc(sid)}"><h2>{esc(title)}</h2>\n{body}\n</section>')


def figure(fid: str, svg: str, caption: str) -> Raw:
    """<figure class="plot" id=fid> holding an inline SVG and its caption."""
    return Raw(f'<figure class="plot" id="{esc(fid)}">{svg}'
               f"<figcaption>{esc(caption)}</figcaption></figure>")


def note(text: str) -> Raw:
    """A short grey remark (e.g. why a section is missing)."""
    return Raw(f'<p class="note">{esc(text)}</p>')


def badge(text: str, kind: str) -> Raw:
    """A coloured label; kind is one of good, warn, bad, info."""
    return Raw(f'<span class="badge {esc(kind)}">{esc(text)}</span>')


_CSS = """
:root{--fg:#1d2330;--muted:#5f6b7a;--line:#dde2ea;--bg:#f6f8fb;--card:#fff;--acc:#2f5fb3}
*{box-sizing:border-box}
body{margin:0;font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
color:var(--fg);background:var(--bg)}
header{background:#1f2a44;color:#fff;padding:18px 28px}
header h1{margin:0 0 4px;font-size:22px}
header .sub{color:#c9d3e6}
nav{position:sticky;top:0;z-index:2;background:#fff;border-bottom:1px solid var(--line);
padding:6px 28px;display:flex;flex-wrap:wrap;gap:14px}
nav a{color:var(--acc);text-decoration:none;font-size:13px}
main{max-width:1180px;margin:0 auto;padding:16px 28px 40px}
section{scroll-margin-top:44px;background:var(--card);border:1px solid var(--line);
border-radius:8px;padding:14px 20px;margin:16px 0}
h2{margin:0 0 10px;font-size:18px}
h3{margin:14px 0 6px;font-size:15px}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin-top:12px}
.card{background:rgba(255,255,255,.08);border:1px solid rgba(255,255,255,.2);border-radius:6px;
padding:6px 12px;min-width:110px}
.card .k{font-size:11px;text-transform:uppercase;letter-spacing:.04em;color:#c9d3e6}
.card .v{font-size:18px;font-weight:600}
table{border-collapse:collapse;margin:6px 0 10px;font-size:13px}
th,td{border-bottom:1px solid var(--line);padding:4px 10px;text-align:left;vertical-align:top}
th{background:var(--bg);font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
tr.best td{background:#eef6ea;font-weight:600}
pre{background:var(--bg);border:1px solid var(--line);border-radius:6px;padding:8px 10px;
overflow-x:auto;font-size:12px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:12px}
figure.plot{margin:0 0 10px;padding:6px;border:1px solid var(--line);border-radius:6px;
background:#fff;max-width:760px}
.grid figure.plot{max-width:none;margin:0}
.cols{display:flex;flex-wrap:wrap;gap:12px 40px;align-items:flex-start}
figure.plot svg{display:block;width:100%;height:auto}
figcaption{font-size:12px;color:var(--muted);padding:2px 4px}
.note{color:var(--muted);font-style:italic;margin:4px 0}
.badge{display:inline-block;white-space:nowrap;padding:1px 8px;border-radius:10px;
font-size:12px;font-weight:600}
.badge.good{background:#dff3df;color:#1d6b2a}.badge.warn{background:#fff1cc;color:#7a5600}
.badge.bad{background:#fbdcdc;color:#9b1c1c}.badge.info{background:#e3ebfa;color:#24488a}
ol.narrative li{margin:3px 0}
footer{color:var(--muted);font-size:12px;max-width:1180px;margin:0 auto;padding:0 28px 30px}
"""


def page(title: str, header: str, nav: Sequence[tuple[str, str]], sections: Sequence[str],
         footer: str) -> str:
    """The whole self-contained document: inline CSS, no scripts, no external resources."""
    links = "".join(f'<a href="#{esc(sid)}">{esc(label)}</a>' for sid, label in nav)
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            '<link rel="icon" href="data:,">\n'
            f"<title>{esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
            f"<header>{header}</header>\n<nav>{links}</nav>\n<main>\n"
            + "\n".join(sections) + f"\n</main>\n<footer>{footer}</footer>\n</body>\n</html>\n")
