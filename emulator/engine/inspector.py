"""The inspector page (`GET /_emulator/`): one HTML document showing the control API's own answers (the
clock, the active faults, and the state dump section by section, each product's section laid out by its
`Product.inspect`, or generically) with buttons that call the control API. Pure rendering: every text
is escaped, there is no build step and nothing is loaded from elsewhere; without JavaScript the page is
a read-only report and its buttons stay disabled. No aiohttp.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import field
from html import escape
from typing import Any, TypeVar
from urllib.parse import quote

from .structs import struct

CONTROL = "/_emulator"
T = TypeVar("T")
RECENT = 200  # rows of a log (events, deliveries, mail, usage) a product's section shows, newest first


def control_path(*parts: str) -> str:
    """A control API path with each part (an id) quoted: `control_path("checkouts", sid, "complete")`."""
    return CONTROL + "".join("/" + quote(str(p), safe="") for p in parts)


@struct(frozen=True, kw_only=True)
class Action:
    """A button: one control API call (`method` on `path`, with a JSON `body` if any)."""

    label: str
    path: str
    method: str = "POST"
    body: Mapping[str, Any] | None = None
    test_id: str = ""


@struct(frozen=True, kw_only=True)
class Row:
    cells: tuple[str, ...]
    key: str = ""  # the row's id (data-row), so a person or a test can find it
    actions: tuple[Action, ...] = ()


@struct(frozen=True, kw_only=True)
class Table:
    title: str
    columns: tuple[str, ...]
    rows: Sequence[Row] = field(default_factory=tuple)
    name: str = ""  # data-table, e.g. "checkouts"
    note: str = ""


# Clock moves offered as buttons: (label, body of POST /_emulator/clock/advance).
CLOCK_STEPS: tuple[tuple[str, dict[str, int]], ...] = (
    ("+1 hour", {"seconds": 3600}), ("+1 day", {"days": 1}), ("+7 days", {"days": 7}),
    ("+30 days", {"days": 30}), ("+1 year", {"days": 365}))


def generic_tables(dump: Any) -> list[Table]:
    """A product section without its own layout: one table per list of rows in its dump."""
    if not isinstance(dump, Mapping):
        return []
    tables = []
    for name, rows in dump.items():
        if not isinstance(rows, list) or not all(isinstance(r, Mapping) for r in rows):
            continue
        columns = tuple(dict.fromkeys(k for r in rows for k in r))[:8]
        tables.append(Table(title=str(name).replace("_", " "), name=str(name), columns=columns,
                            rows=[Row(cells=tuple(cell(r.get(c)) for c in columns)) for r in rows]))
    return tables


def newest(rows: Sequence[T]) -> list[T]:
    """A log's last `RECENT` rows, newest first."""
    return list(reversed(rows[-RECENT:]))


def attempts_cell(value: Any, outcome: Callable[[Mapping[str, Any]], Any]) -> str:
    """A delivery's attempts as one cell: `<at> <outcome>` each, `; `-separated, or "none yet"."""
    if not isinstance(value, list):
        return "none yet"
    return "; ".join(f"{a.get('at')} {outcome(a)}" for a in value if isinstance(a, Mapping)) or "none yet"


def cell(value: Any) -> str:
    """A dump value as table text: strings as they are, absent as '', anything else as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def render_page(*, clock: Mapping[str, Any], faults: Sequence[Mapping[str, Any]],
                sections: Sequence[tuple[str, str, Sequence[Table]]], token: str | None = None) -> str:
    """The whole page. `clock` and `faults` are the control API's answers (getClock, listFaults' items);
    `sections` is (product name, title, tables) per product served. `token` (the page was opened with
    `?token=` on an emulator with a control token) goes with every call the page makes."""
    head = _HEAD
    if token:  # the page's own links keep it (a person opening a link cannot add a header)
        query = f'?token={escape(quote(token, safe=""))}'
        head = head.replace('<a href="/_emulator/state">', f'<a href="/_emulator/state{query}">')
        head = head.replace('<a href="/_emulator/" ', f'<a href="/_emulator/{query}" ')
        head = head.replace("<body>", f'<body data-token="{escape(token)}">')
    parts = [head, "<main>", _clock(clock), _faults(faults)]
    for name, title, tables in sections:
        parts.append(f'<section class="product" data-product="{escape(name)}"><h2>{escape(title)}</h2>')
        parts.extend(_table(t) for t in tables)
        parts.append("</section>")
    parts.append("</main>" + _SCRIPT + "</body></html>")
    return "\n".join(parts)


def _clock(clock: Mapping[str, Any]) -> str:
    buttons = "".join(_button(Action(label=label, path=control_path("clock", "advance"), body=body,
                                     test_id=f"advance-{label.strip('+').replace(' ', '-')}"))
                      for label, body in CLOCK_STEPS)
    frozen = "frozen" if clock.get("frozen") else "following wall time"
    return (f'<section id="clock"><h2>Clock</h2><p><time data-testid="clock-now">{escape(str(clock.get("now")))}'
            f"</time> ({frozen})</p><p class=\"actions\">Advance: {buttons}</p></section>")


def _faults(faults: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for f in faults:
        effect = ("drop the connection" if f.get("drop_connection") else
                  f"answer {f.get('status')}" if f.get("status") is not None else "latency only")
        if f.get("latency_ms"):
            effect += f" after {f['latency_ms']} ms"
        if f.get("after_commit"):
            effect += ", after the write"
        fid = str(f.get("id"))
        rows.append(Row(key=fid, cells=(fid, cell(f.get("operation_id")), effect, cell(f.get("nth")),
                                        cell(f.get("times")) or "unlimited", cell(f.get("calls")), cell(f.get("hits"))),
                        actions=(Action(label="Remove", method="DELETE", path=control_path("faults", fid),
                                        test_id=f"remove-fault-{fid}"),)))
    table = Table(title="Active faults", name="faults", rows=rows,
                  columns=("id", "operation", "effect", "from call", "times", "calls", "hits"),
                  note="POST /_emulator/faults injects one; a reset clears them.")
    return f'<section id="faults">{_table(table, level=2)}</section>'


def _table(table: Table, *, level: int = 3) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in table.columns)
    acts = "<th>actions</th>" if any(r.actions for r in table.rows) else ""
    body = []
    for row in table.rows:
        cells = "".join(f"<td>{escape(c)}</td>" for c in row.cells)
        buttons = f"<td class=\"actions\">{''.join(_button(a) for a in row.actions)}</td>" if acts else ""
        body.append(f'<tr data-row="{escape(row.key)}">{cells}{buttons}</tr>')
    empty = f'<tr><td colspan="{len(table.columns) + bool(acts)}" class="empty">none</td></tr>'
    note = f'<p class="note">{escape(table.note)}</p>' if table.note else ""
    return (f'<h{level}>{escape(table.title)} <small>({len(table.rows)})</small></h{level}>{note}'
            f'<table data-table="{escape(table.name)}"><thead><tr>{head}{acts}</tr></thead>'
            f"<tbody>{''.join(body) or empty}</tbody></table>")


def _button(action: Action) -> str:
    body = f' data-body="{escape(json.dumps(dict(action.body)))}"' if action.body is not None else ""
    test_id = f' data-testid="{escape(action.test_id)}"' if action.test_id else ""
    return (f'<button type="button" disabled data-method="{escape(action.method)}" data-path="{escape(action.path)}"'
            f'{body}{test_id} title="{escape(action.method)} {escape(action.path)}">{escape(action.label)}</button>')


_HEAD = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>paywall-emulator inspector</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
header{background:#24292f;color:#fff;padding:.6em 1em;display:flex;gap:1em;align-items:baseline}
header a{color:#9ecbff}
main{padding:0 1em 2em}
section{background:#fff;border:1px solid #d0d7de;border-radius:6px;margin:1em 0;padding:.2em 1em 1em}
table{border-collapse:collapse;width:100%;margin:.3em 0 1em}
th,td{border-bottom:1px solid #eaeef2;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f6f8fa;font-weight:600}
td{font-family:ui-monospace,monospace;font-size:12px;word-break:break-all}
.empty,.note{color:#656d76}
button{margin:0 .3em .2em 0;cursor:pointer}
td.actions{white-space:nowrap;word-break:normal}
#status{min-height:1.4em;margin:.5em 1em;font-family:ui-monospace,monospace}
#status.error{color:#cf222e}
</style></head>
<body>
<header><h1 style="font-size:1.2em;margin:0">paywall-emulator inspector</h1>
<a href="/_emulator/" data-testid="refresh">Refresh</a>
<a href="/_emulator/state">state (JSON)</a></header>
<noscript><p class="note" style="margin:.5em 1em">JavaScript is off: this page is a read-only report
(Refresh to update it); its buttons need JavaScript.</p></noscript>
<p id="status" role="status" data-testid="status"></p>"""

# Every button is one control API call; the page reloads after a success and keeps the last answer in
# the status line (sessionStorage), so the result of an action is visible on the refreshed page.
_SCRIPT = """<script>
(function () {
  var status = document.getElementById("status");
  var last = sessionStorage.getItem("paywall-inspector-status");
  if (last) { status.textContent = last; sessionStorage.removeItem("paywall-inspector-status"); }
  document.querySelectorAll("button[data-path]").forEach(function (button) {
    button.disabled = false;
    button.addEventListener("click", function () {
      var method = button.dataset.method, path = button.dataset.path, init = {method: method, headers: {}};
      if (document.body.dataset.token) { init.headers["X-Emulator-Token"] = document.body.dataset.token; }
      if (button.dataset.body !== undefined) {
        init.headers["Content-Type"] = "application/json";
        init.body = button.dataset.body;
      }
      button.disabled = true;
      status.className = "";
      status.textContent = method + " " + path + " ...";
      fetch(path, init).then(function (response) {
        return response.text().then(function (text) {
          var line = method + " " + path + " -> " + response.status;
          if (response.ok) {
            sessionStorage.setItem("paywall-inspector-status", line);
            location.reload();
          } else {
            status.className = "error";
            status.textContent = line + " " + text;
            button.disabled = false;
          }
        });
      }, function (error) {
        status.className = "error";
        status.textContent = method + " " + path + " failed: " + error;
        button.disabled = false;
      });
    });
  });
})();
</script>"""
