"""Runbook rendering: the sandbox, the fallbacks, HTML escaping, and secrets kept out.

Templates here are written inline (``Templates({...})``), the incident data is a sample built
from an example policy, and the markdown → HTML converter is checked on what could break it.
"""

from __future__ import annotations

import json
import re
import textwrap

import pytest

from killswitch.compile.compiler import compile_documents
from killswitch.engine.evaluate import evaluate
from killswitch.engine.state import State
from killswitch.events import STAGE_TRANSITION, Event
from killswitch.policy.load import load_text
from killswitch.render.runbook import fallback_markdown, markdown_html
from killswitch.runbooks.incident import DEFAULT_TEMPLATE, incident_from_event, template_for
from killswitch.runbooks.render import BUILTIN, render_runbook
from killswitch.runbooks.sample import sample_incident
from killswitch.runbooks.templates import TemplateError, Templates
from killswitch.runner.lock.lock import LockBook
from killswitch.runner.tick.report import TickReport
from killswitch.snapshot import FetchStatus, Position, Snapshot
from tests.conftest import ROOT
from tests.unit.engine_helpers import compile_graph

T0 = 1_772_456_400_000


@pytest.fixture(scope="module")
def graph():
    from killswitch.cli.common import compile_paths

    result, _ = compile_paths((str(ROOT / "policies"),))
    assert result.graph is not None
    return result.graph


@pytest.fixture(scope="module")
def flatten(graph) -> dict:
    return sample_incident(graph.policy("futures-book"), 3, digest=graph.digest, revision="abc123")


@pytest.fixture(scope="module")
def repo_templates() -> Templates:
    return Templates.load(ROOT / "runbooks")


# --- the sandbox ------------------------------------------------------------------------------


@pytest.mark.parametrize("source", [
    "{{ ''.__class__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ policy.__class__.__base__ }}",
    "{{ range.__self__ }}",
    "{{ lipsum.__globals__['os'] }}",
    "{% for k in policy.items.__globals__ %}{{ k }}{% endfor %}",
    "{{ '{0.__class__}'.format(policy) }}",
])
def test_sandbox_refuses_python_internals(source, flatten):
    t = Templates({"x.md.j2": source})
    with pytest.raises(TemplateError) as err:
        t.render("x.md.j2", flatten)
    assert err.value.kind == "render"
    assert re.search(r"unsafe|SecurityError|undefined|UndefinedError", str(err.value)), str(err.value)


@pytest.mark.parametrize("source,kind", [
    ("{{ no_such_key }}", "render"),
    ("{{ stage.no_such_key }}", "render"),
    ("{% include '../../etc/passwd' %}", "unknown"),
    ("{% include '/etc/passwd' %}", "unknown"),
    ("{% extends 'missing.md.j2' %}", "unknown"),
    ("{% if stage.level %}", "syntax"),
    ("{{ stage.level | no_such_filter }}", "syntax"),
])
def test_undefined_unknown_and_broken_templates_raise_with_their_kind(source, kind, flatten):
    t = Templates({"x.md.j2": source})
    with pytest.raises(TemplateError) as err:
        t.render("x.md.j2", flatten)
    assert err.value.kind == kind


def test_a_render_error_names_the_template_line():
    t = Templates({"x.md.j2": "line one\n{{ policy.name }}\n{{ stage.nmae }}\n"}, root="runbooks")
    with pytest.raises(TemplateError) as err:
        t.render("x.md.j2", {"policy": {"name": "p"}, "stage": {"name": "s"}})
    assert (err.value.file, err.value.line) == ("runbooks/x.md.j2", 3)


def test_a_check_answered_before_for_the_keys_a_template_names_still_reports_each_finding():
    """Checking reuses what it found of a template for data with the same keys the template
    names; data without one of them still gets its finding, with its own did-you-mean."""
    t = Templates({"x.md.j2": "{{ stage.name }} {{ extra }}\n"}, root="runbooks")
    clean = {"stage": {"name": "s"}, "extra": 1, "signal_a": 1}
    assert t.check("x.md.j2", [clean]) == []
    assert t.check("x.md.j2", [dict(clean, signal_b=2)]) == []  # another key the template does not name
    [missing] = t.check("x.md.j2", [{"stage": {"name": "s"}, "extr": 1}])
    assert missing.kind == "render" and '"extra" is undefined' in missing.message and '"extr"' in missing.message
    [again] = t.check("x.md.j2", [{"stage": {"name": "s"}, "other": 1}])
    assert '"extra" is undefined' in again.message and "did you mean" not in again.message
    assert t.check("x.md.j2", [clean]) == []


def test_the_context_holds_only_plain_values(flatten):
    def plain(v):
        if isinstance(v, dict):
            return all(isinstance(k, str) and plain(x) for k, x in v.items())
        if isinstance(v, list):
            return all(plain(x) for x in v)
        return v is None or isinstance(v, (str, int, float, bool))

    assert plain(flatten)
    assert json.loads(json.dumps(flatten, allow_nan=False)) == flatten


# --- HTML: escaped, from the markdown or from an HTML twin ------------------------------------------


def test_html_twin_is_autoescaped_and_markdown_is_not(flatten):
    data = dict(flatten, scope="<script>alert(1)</script>")
    t = Templates({"r.md.j2": "scope {{ scope }}\n", "r.html.j2": "<p>scope {{ scope }}</p>\n"})
    rb = render_runbook(dict(data, template="r.md.j2"), t)
    assert rb.markdown == "scope <script>alert(1)</script>\n"
    assert rb.html == "<p>scope &lt;script&gt;alert(1)&lt;/script&gt;</p>\n"


def test_html_from_markdown_escapes_whatever_the_data_holds(flatten):
    data = dict(flatten, scope='<img src=x onerror="alert(1)"> [x](javascript:alert(1)) **b**')
    rb = render_runbook(dict(data, template="r.md.j2"), Templates({"r.md.j2": "# {{ scope }}\n\n`{{ scope }}`\n"}))
    assert "<img" not in rb.html and "javascript:alert(1)" in rb.html  # as text, never as a link
    assert "<a " not in rb.html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in rb.html


def test_markdown_converter_knows_the_runbook_constructs():
    md = textwrap.dedent("""\
        # Title <b>
        > **DRY RUN**: nothing sent

        | a | b |
        |---|---|
        | `x \\| y` | 1 < 2 |

        1. first
        2. second
           - nested `code`
        - [ ] open box
        - [x] done box

        ```sh
        ksctl reset --reason "<why>"
        ```
        ---
        text with `<tag>` and **bold**
        """)
    html = markdown_html(md)
    assert '<h1 id="title-b">Title &lt;b&gt;</h1>' in html
    assert "<blockquote><p><strong>DRY RUN</strong>: nothing sent</p>\n</blockquote>" in html
    assert "<td><code>x | y</code></td><td>1 &lt; 2</td>" in html
    assert re.search(r"<ol>\s*<li>first\s*</li>\s*<li>second\s*<ul>\s*<li>nested <code>code</code>", html)
    assert '<li class="task"><input type="checkbox" disabled>open box' in html
    assert '<li class="task"><input type="checkbox" disabled checked>done box' in html
    assert '<pre><code class="language-sh">ksctl reset --reason &quot;&lt;why&gt;&quot;</code></pre>' in html
    assert "<hr>" in html
    assert "<p>text with <code>&lt;tag&gt;</code> and <strong>bold</strong></p>" in html
    assert html.count("<ul>") == html.count("</ul>") and html.count("<ol>") == html.count("</ol>")


# --- which template, and the fallbacks ----------------------------------------------------------------


def test_the_template_a_stage_names_wins_over_the_policys():
    text = textwrap.dedent("""\
        apiVersion: killswitch/v1
        kind: Policy
        metadata: {name: p}
        spec:
          signals: {dd: {equity_drawdown: {window: 15m}}}
          triggers:
            soft: {when: "dd >= 2%", on_missing_data: hold}
            hard: {when: "dd >= 5%", on_missing_data: hold}
          stages:
            - {level: 1, name: warn, on: [soft], actions: [{lock_trading: {mode: reducing}}]}
            - {level: 2, name: flat, on: [hard], reset: manual, actions: [close_all, {runbook: flatten.md.j2}]}
          runbook: warn.md.j2
        """)
    res = compile_documents(load_text(text, "p.yaml"))
    node = res.graph.policy("p")
    assert (template_for(node, 1), template_for(node, 2)) == ("warn.md.j2", "flatten.md.j2")


def test_a_failing_template_falls_back_to_the_default_and_says_why(flatten, repo_templates):
    t = Templates({**repo_templates.sources, "bad.md.j2": "{{ stage.nmae }}"}, root="runbooks")
    rb = render_runbook(dict(flatten, template="bad.md.j2"), t)
    assert rb.template == DEFAULT_TEMPLATE
    assert rb.markdown.startswith("> The runbook template `bad.md.j2` could not be used")
    assert "runbooks/bad.md.j2:1" in rb.problems[0]
    assert "## 7. After closure" in rb.markdown


def test_without_any_usable_template_the_builtin_runbook_still_tells_what_to_do(flatten, monkeypatch):
    import killswitch.runbooks.render as render_module

    def runbooks():
        for templates in (None, Templates({DEFAULT_TEMPLATE: "{% if %}"})):
            yield templates, render_runbook(flatten, templates), "is **HALTED** since"
        # the built-in template failing too: the plain runbook, written without a template engine
        monkeypatch.setattr(render_module, "builtin_templates", lambda: Templates({DEFAULT_TEMPLATE: "{% if %}"}))
        yield "broken", render_runbook(flatten, None), "LOCKED halted"

    for templates, rb, locked in runbooks():
        # no directory: the built-in runbook is the one meant (no problem); a broken template: said
        assert rb.template == BUILTIN and bool(rb.problems) == (templates is not None)
        for fact in ("futures-book/binanceusdm/main/L3/e3", flatten["graph"]["digest"], "ksctl reset --policy",
                     "ksctl audit verify", "positions confirmed closed", "resumption plan", locked):
            assert fact in rb.markdown, fact
        assert "<h1" in rb.html and "<script" not in rb.html


def test_builtin_runbook_works_on_the_smallest_data():
    md = fallback_markdown({"incident": "p/s/L1/e1"}, ["no runbooks/ directory"])
    assert md.startswith("# Runbook: ? ? stage ?")
    assert "`no runbooks/ directory`" in md


# --- secrets ---------------------------------------------------------------------------------------

SECRET = "s3cr3t-APIKEY-9f8e7d6c5b4a"

FAULTS = textwrap.dedent("""\
    apiVersion: killswitch/v1
    kind: Policy
    metadata: {name: faults, owner: platform}
    spec:
      scope: {level: account}
      signals: {age: data_age}
      triggers:
        stale: {when: "age >= 60s", on_missing_data: fire}
      stages:
        - {level: 1, name: flatten, on: [stale], reset: manual,
           actions: [close_all, {lock_trading: {mode: halted}}]}
    """)


class _Store:
    url = "postgresql://ks:***@db.internal/ks"  # what a store shows: the password already masked


class _Adapter:
    """An adapter as the runner holds it: with credentials the runbook must never show."""

    api_key = SECRET
    secret = SECRET


class _Runner:
    def __init__(self, graph, snapshots, state):
        self.graph = graph
        self.snapshots = {f"{s.venue}/{s.account}": s for s in snapshots}
        self.state = state
        self.lock_book = LockBook()
        self.store = _Store()
        self.dry_run = False
        self.adapters = {"binanceusdm/main": _Adapter()}

    # what a sink may ask of the runner (killswitch.events.SinkContext)
    def graph_of(self, policy):
        return self.graph

    def account(self, key):
        return self.state.accounts.get(key)

    def lock_doc(self, scope, now_ms):
        return self.lock_book.for_scope(scope, now_ms).to_doc()

    def lock_key(self, now_ms):
        return self.lock_book, None, len(self.lock_book.in_force(now_ms))

    def residuals_of(self, incident):
        return ()

    def still_open_of(self, incident):
        return ()


def test_secrets_in_adapters_errors_and_environment_never_reach_the_runbook(monkeypatch, repo_templates):
    monkeypatch.setenv("BINANCE_FUTURES_API_KEY", SECRET)
    monkeypatch.setenv("KS_API_TOKEN", SECRET)
    graph = compile_graph(FAULTS, "faults.yaml")
    good = Snapshot(venue="binanceusdm", account="main", market_type="futures", ts_event=T0, equity=1e6,
                    positions=[Position(symbol="BTC/USDT:USDT", side="long", contracts=1, notional=60_000,
                                        mark_price=60_000, unrealized_pnl=-100)])
    state = State()
    _, state = evaluate(graph, [good], state, T0)
    now = T0 + 120_000
    # the venue's error text quotes the key (as some venues do): only the reason code may pass
    failed = Snapshot(venue="binanceusdm", account="main", market_type="futures", ts_event=now,
                      fetch=FetchStatus(ok=False, error_code="AUTH_FAILED", error=f"invalid api key {SECRET}"))
    ev, state = evaluate(graph, [failed], state, now)
    assert ev.transitions, "the stale-data stage should have been entered"
    s = ev.transitions[0]
    runner = _Runner(graph, [failed], state)
    event = Event.make(STAGE_TRANSITION, now, {
        "from": 0, "to": 1, "reason": s.transition.reason, "incident": s.transition.decision_id,
        "decision_id": s.transition.decision_id, "graph_digest": graph.digest, "revision": None,
        "signals": [{"name": v.name, "value": v.value, "reason": v.reason} for v in s.signals],
        "triggers": ["stale"], "orders": 0}, policy="faults", scope=s.scope, level=1)
    report = TickReport(now, leader=True, evaluation=ev)
    data = incident_from_event(event, runner, report)
    # a template that goes looking for secrets finds nothing to print
    snoop = Templates({**repo_templates.sources, "snoop.md.j2": (
        "{% for a in accounts %}{{ a }}{% endfor %}{{ commands }}{{ policy }}{{ lock }}\n")})
    rendered = [render_runbook(dict(data, template=name), snoop) for name in ("snoop.md.j2", DEFAULT_TEMPLATE)]
    assert data["accounts"][0]["error_code"] == "AUTH_FAILED"
    for text in [json.dumps(data)] + [r.markdown for r in rendered] + [r.html for r in rendered]:
        assert SECRET not in text
    assert "postgresql://ks:***@db.internal/ks" in rendered[1].markdown
    for attempt in ("{{ environ }}", "{{ runner }}", "{{ adapters }}", "{{ config }}"):
        with pytest.raises(TemplateError):
            Templates({"x.md.j2": attempt}).render("x.md.j2", data)
