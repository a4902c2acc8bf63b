"""A scrape in two parts (killswitch.metrics): the families collected where the runner's state
lives, then the text written from them anywhere. The page is the one ``exposition`` writes, and
it holds the values read at the collection, whatever changes before it is rendered."""

from __future__ import annotations

import threading

from killswitch.metrics import CollectedPage, Registry, exposition, runner_registry


def build_with(values: dict, own: Registry):
    def build(reg: Registry) -> None:
        reg.sampled("killswitch_ticks_total", "counter", "Ticks.").add(values["ticks"])
        stage = reg.sampled("killswitch_stage", "gauge", "Stage.", ("policy", "scope"))
        for scope, level in sorted(values["stages"].items()):
            stage.add(level, policy="p", scope=scope)
        reg.include(own)
    return build


def long_lived() -> tuple[Registry, object, object]:
    own = Registry()
    events = own.counter("killswitch_events_total", "Events.", ("kind",))
    took = own.histogram("killswitch_tick_duration_seconds", "Ticks.", (), (0.1, 1.0))
    events.inc(2, kind="reset")
    took.observe(0.5)
    return own, events, took


def test_a_collected_page_is_the_page_exposition_writes(tmp_path):
    own, _, _ = long_lived()
    values = {"ticks": 7, "stages": {'a"b': 1, "x": 0}}  # (a label escaped as the library escapes it)
    reg = runner_registry(build_with(values, own), proc=str(tmp_path))  # no /proc there: no process lines
    whole = exposition(reg)
    assert reg.collected().render() == whole
    assert 'killswitch_stage{policy="p",scope="a\\"b"} 1.0' in whole and "python_info" in whole


def test_a_collected_page_keeps_the_values_read_when_it_was_collected(tmp_path):
    own, events, took = long_lived()
    values = {"ticks": 7, "stages": {"x": 1}}
    reg = runner_registry(build_with(values, own), proc=str(tmp_path))
    page = reg.collected()
    values["ticks"], values["stages"] = 8, {"x": 3, "y": 2}
    events.inc(5, kind="reset")
    took.observe(5.0)
    text = page.render()
    assert "killswitch_ticks_total 7.0" in text and 'killswitch_stage{policy="p",scope="x"} 1.0' in text
    assert 'scope="y"' not in text
    assert 'killswitch_events_total{kind="reset"} 2.0' in text and "killswitch_tick_duration_seconds_count 1.0" in text
    again = reg.collected().render()
    assert "killswitch_ticks_total 8.0" in again and 'killswitch_events_total{kind="reset"} 7.0' in again


def test_a_family_a_collector_yields_again_is_copied_at_the_collection():
    """A long-lived collector may hand out the same family object at every scrape and refill it:
    a page being rendered on another thread keeps the samples it was collected with."""
    from prometheus_client.core import GaugeMetricFamily

    family = GaugeMetricFamily("killswitch_reused", "Reused.", labels=["k"])

    class Reusing:
        def collect(self):
            family.samples = []
            for k in range(3):
                family.add_metric([str(k)], float(k))
            yield family

    page = CollectedPage.of(Reusing())
    family.samples = []  # the next scrape refills the same object
    text = page.render()
    assert [line for line in text.splitlines() if not line.startswith("#")] == [
        'killswitch_reused{k="0"} 0.0', 'killswitch_reused{k="1"} 1.0', 'killswitch_reused{k="2"} 2.0']


def test_pages_render_on_several_threads_at_once(tmp_path):
    own, _, _ = long_lived()
    values = {"ticks": 1, "stages": {f"s{i}": i % 3 for i in range(200)}}
    reg = runner_registry(build_with(values, own), proc=str(tmp_path))
    page = reg.collected()
    want = page.render()
    out: list[str] = []
    threads = [threading.Thread(target=lambda: out.append(page.render())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert out == [want] * 4


def test_the_scrapes_sharing_a_collection_share_its_text(tmp_path, monkeypatch):
    from killswitch import metrics

    written = []
    real = metrics.generate_latest
    monkeypatch.setattr(metrics, "generate_latest", lambda c: written.append(c) or real(c))
    reg = runner_registry(build_with({"ticks": 1, "stages": {}}, Registry()), proc=str(tmp_path))
    page = reg.collected()
    assert page.render() == page.render() and len(written) == 1
