"""The runner's Prometheus metrics, on ``prometheus_client``: families by name, rendered as text.

``/metrics`` is the runner's own :class:`~prometheus_client.CollectorRegistry` (never the
library's global ``REGISTRY``, which a library imported into the process could also fill; see
:func:`runner_registry`): the runner's families, built at each scrape into a :class:`Registry`,
then the library's process collector (CPU, memory, file descriptors, start time: read from
``/proc`` as every Prometheus client reads them) and platform collector (``python_info``). The
runner's own families are :class:`Sampled` (values read from its book at the scrape); the lease
thread and the sinks add theirs (``collect_metrics(registry)``), and a sink that keeps a registry
of its own (telemetry: counters, gauges and histograms it updates as it goes) is
:meth:`Registry.include`-d. A family is registered once: a second one of the same name is an
error, never a second block of lines. The library writes the exposition text
(:func:`~prometheus_client.generate_latest`, ``# HELP`` and ``# TYPE`` on every family,
cumulative ``_bucket{le=…}``, ``_sum`` and ``_count``, the escaping) and its content type
(:data:`CONTENT_TYPE`); this module keeps the runner's rules on names (a counter ends in
``_total``, no ``le`` but a histogram's), the help every family needs, and leaves out the
``_created`` series the library adds to its counters and histograms (no alert or dashboard
reads them, and each would be one more family a scrape stores).

A scrape in two parts (:meth:`RunnerRegistry.collected`, then :meth:`CollectedPage.render`): the
runner's families are collected where its state lives — its values read into plain metric
families, the cheap part — and the text is written from them on any thread, the expensive part
(about 9 µs a line: ~90 ms for a page of 10,000 lines), with the process's and the platform's
families, which read ``/proc``, not the runner.

Pure: no I/O, no clock (the process collector reads ``/proc`` when scraped).
"""

from __future__ import annotations

import copy
import math
import re
import threading
from typing import Callable, Iterable, Iterator, Optional, Sequence, Union

from prometheus_client import (
    CollectorRegistry,
    Counter as _Counter,
    Gauge as _Gauge,
    Histogram as _Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, UnknownMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.registry import Collector

_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")

# the text format generate_latest writes: Prometheus's text format 0.0.4 (the names here are
# all of its legacy character set, so nothing is escaped the 1.0.0 way)
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4

# seconds: from a fast in-memory tick to one waiting on a slow exchange (snapshot timeout 10 s)
TICK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _checked(name: str, labels: Sequence[str], kind: str) -> tuple[str, ...]:
    if not _NAME.match(name):
        raise ValueError(f"bad metric name {name!r}")
    if kind == "counter" and not name.endswith("_total"):
        raise ValueError(f"a counter's name ends in _total: {name!r}")
    for label in labels:
        if not _LABEL.match(label) or label.startswith("__") or label == "le":
            raise ValueError(f"bad label name {label!r} for {name}")
    return tuple(labels)


class _Family:
    """One family of the registry: its name, its label names and what it yields when collected."""

    def __init__(self, name: str, labels: Sequence[str], kind: str):
        self.labels = _checked(name, labels, kind)
        self._label_set = frozenset(self.labels)
        self.name = name

    def _key(self, labels: dict) -> tuple[str, ...]:
        # (on the runner's loop for every sample of a scrape: a key view compared with a frozenset
        # and a list made whole cost a quarter of a set made and a generator run, per sample)
        if labels.keys() != self._label_set:
            raise ValueError(f"{self.name} takes labels {list(self.labels)}, got {sorted(labels)}")
        return tuple([str(labels[k]) for k in self.labels])

    def collect(self) -> Iterator[Metric]:  # pragma: no cover - every kind overrides it
        raise NotImplementedError


class _Instrument(_Family):
    """A ``prometheus_client`` counter, gauge or histogram that no registry holds but this one,
    updated with its labels as keywords."""

    def __init__(self, name: str, labels: Sequence[str], kind: str, metric: Union[_Counter, _Gauge, _Histogram]):
        super().__init__(name, labels, kind)
        self._metric = metric

    def _series(self, labels: dict):
        key = self._key(labels)
        return self._metric.labels(*key) if key else self._metric

    def collect(self) -> Iterator[Metric]:
        for m in self._metric.collect():
            m.samples = [s for s in m.samples if not s.name.endswith("_created")]
            yield m


class Counter(_Instrument):
    def __init__(self, name: str, help: str, labels: Sequence[str]):
        super().__init__(name, labels, "counter", _Counter(name, help, labels, registry=None))

    def inc(self, amount: float = 1, **labels) -> None:
        if amount < 0:
            raise ValueError(f"{self.name}: a counter only goes up")
        self._series(labels).inc(amount)


class Gauge(_Instrument):
    def __init__(self, name: str, help: str, labels: Sequence[str]):
        super().__init__(name, labels, "gauge", _Gauge(name, help, labels, registry=None))

    def set(self, value: float, **labels) -> None:
        self._series(labels).set(value)


class Histogram(_Instrument):
    def __init__(self, name: str, help: str, labels: Sequence[str], buckets: Iterable[float]):
        bs = sorted(float(b) for b in buckets)
        if not bs or any(math.isinf(b) or math.isnan(b) for b in bs) or len(set(bs)) != len(bs):
            raise ValueError(f"{name}: buckets must be distinct finite numbers")
        self.buckets = tuple(bs)
        super().__init__(name, labels, "histogram", _Histogram(name, help, labels, registry=None, buckets=bs))

    def observe(self, value: float, **labels) -> None:
        self._series(labels).observe(value)


_SAMPLED = {"counter": CounterMetricFamily, "gauge": GaugeMetricFamily, "untyped": UnknownMetricFamily}


class Sampled(_Family):
    """A family whose values are read at the scrape (a count or a gauge kept elsewhere): ``add``
    one sample per label set. Counters, gauges and untyped families only."""

    def __init__(self, name: str, help: str, labels: Sequence[str], kind: str):
        if kind not in _SAMPLED:
            raise ValueError(f"{name}: a sampled family is a counter, a gauge or untyped, not {kind!r}")
        if not help.strip():
            raise ValueError(f"{name}: a family needs its help text")
        super().__init__(name, labels, kind)
        self.kind = kind
        self.help = help
        _SAMPLED[kind](name, help, labels=self.labels)  # (the library's checks of the name, at once)
        self._values: dict[tuple[str, ...], float] = {}

    def add(self, value: float, **labels) -> "Sampled":
        key = self._key(labels)
        if key in self._values:
            raise ValueError(f"{self.name}{dict(zip(self.labels, key))} sampled twice")
        self._values[key] = value
        return self

    def collect(self) -> Iterator[Metric]:
        family = _SAMPLED[self.kind](self.name, self.help, labels=self.labels)  # one per collection
        for key, value in sorted(self._values.items()):
            family.add_metric(list(key), value)
        yield family

    def frozen(self) -> "Sampled":
        """This family with its values as they are now (added to after, it changes not)."""
        out = copy.copy(self)
        out._values = dict(self._values)
        return out


_SUFFIXES = ("_bucket", "_sum", "_count")


def parse_families(text: str) -> dict[str, dict]:
    """Exposition text by family: ``{name: {"help": str|None, "type": str|None, "samples": [line…]}}``.
    A sample of a histogram (``x_bucket``, ``x_sum``, ``x_count``) belongs to its family ``x``
    when ``x`` is declared. Raises ``ValueError`` on a family whose HELP or TYPE is given twice,
    or whose lines are not together (two blocks of one name)."""
    out: dict[str, dict] = {}
    order: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith(("# HELP ", "# TYPE ")):
            _, what, rest = line.split(" ", 2)
            name, _, value = rest.partition(" ")
            fam = out.setdefault(name, {"help": None, "type": None, "samples": []})
            key = "help" if what == "HELP" else "type"
            if fam[key] is not None:
                raise ValueError(f"{name}: # {what} given twice")
            fam[key] = value
        elif line.startswith("#"):
            continue
        else:
            sample = line.split("{", 1)[0].split(" ", 1)[0]
            name = sample
            for suffix in _SUFFIXES:
                base = sample[: -len(suffix)]
                if sample.endswith(suffix) and out.get(base, {}).get("type") in ("histogram", "summary"):
                    name = base
            fam = out.setdefault(name, {"help": None, "type": None, "samples": []})
            fam["samples"].append(line)
        if not order or order[-1] != name:
            if name in order:
                raise ValueError(f"{name}: its lines are not together (a second block of the family)")
            order.append(name)
    return out


class Registry(Collector):
    """Families by name, for one scrape or one part's own; :meth:`collect` yields them in
    registration order, as ``prometheus_client``'s collectors do."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._metrics: dict[str, _Family] = {}

    def _add(self, metric: _Family) -> _Family:
        with self._lock:
            if metric.name in self._metrics:
                raise ValueError(f"metric {metric.name} is registered twice")
            self._metrics[metric.name] = metric
        return metric

    def counter(self, name: str, help: str, labels: Sequence[str] = ()) -> Counter:
        return self._add(Counter(name, help, labels))  # type: ignore[return-value]

    def gauge(self, name: str, help: str, labels: Sequence[str] = ()) -> Gauge:
        return self._add(Gauge(name, help, labels))  # type: ignore[return-value]

    def histogram(self, name: str, help: str, labels: Sequence[str] = (),
                  buckets: Iterable[float] = LATENCY_BUCKETS) -> Histogram:
        return self._add(Histogram(name, help, labels, buckets))  # type: ignore[return-value]

    def sampled(self, name: str, kind: str, help: str, labels: Sequence[str] = ()) -> Sampled:
        """A family whose samples are added now, for this rendering (see :class:`Sampled`)."""
        return self._add(Sampled(name, help, labels, kind))  # type: ignore[return-value]

    def include(self, other: "Registry") -> None:
        """Render ``other``'s metrics (a sink's long-lived registry) as this registry's own: one
        name space, so a name in both is an error."""
        for m in other.metrics():
            self._add(m)

    def names(self) -> list[str]:
        return list(self._metrics)

    def metrics(self) -> list[_Family]:
        with self._lock:
            return list(self._metrics.values())

    def collect(self) -> Iterator[Metric]:
        for m in self.metrics():
            yield from m.collect()

    def render(self) -> str:
        """This registry's families alone, as exposition text."""
        return generate_latest(self).decode("utf-8")


class _Scrape(Collector):
    """The runner's families, built anew at each scrape by ``build(registry)``."""

    def __init__(self, build: Callable[[Registry], None]):
        self._build = build

    def registry(self) -> Registry:
        registry = Registry()
        self._build(registry)
        return registry

    def collect(self) -> Iterator[Metric]:
        return self.registry().collect()


class CollectedPage(Collector):
    """One scrape's families as collected — their values read and kept: nothing of the runner is
    read again — then the ``system`` collectors (the process's and the platform's, read when
    rendered). :meth:`render` writes the text on whichever thread calls it, once: the scrapes
    that share a collection (``/metrics`` asked by several at once) share its text."""

    def __init__(self, families: Sequence[Union[Metric, Sampled]], system: Sequence[Collector] = ()):
        self.families = tuple(families)
        self.system = tuple(system)
        self._text: Optional[str] = None
        self._writing = threading.Lock()

    @classmethod
    def of(cls, collector: Collector, system: Sequence[Collector] = ()) -> "CollectedPage":
        """``collector``'s families with their values now (call it on the thread they live on).
        A :class:`Registry`'s sampled families keep their values as read, and become the
        library's metric families only when rendered (most of a collection's cost: ~1.5 µs a
        sample); anything else is collected now, its samples copied."""
        parts = collector.metrics() if isinstance(collector, Registry) else (collector,)
        out: list[Union[Metric, Sampled]] = []
        for part in parts:
            if isinstance(part, Sampled):
                out.append(part.frozen())
                continue
            for m in part.collect():
                mine = copy.copy(m)  # a family object a long-lived collector yields again at the next scrape
                mine.samples = list(m.samples)
                out.append(mine)
        return cls(out, system)

    def collect(self) -> Iterator[Metric]:
        for f in self.families:
            if isinstance(f, Sampled):
                yield from f.collect()
            else:
                yield f
        for c in self.system:
            yield from c.collect()

    def render(self) -> str:
        """The exposition text (:func:`~prometheus_client.generate_latest`), what ``/metrics`` serves;
        written at the first call, the same text after."""
        with self._writing:
            if self._text is None:
                self._text = generate_latest(self).decode("utf-8")
            return self._text


class RunnerRegistry(CollectorRegistry):
    """See :func:`runner_registry`; :meth:`collected` is a scrape's first part."""

    def __init__(self, build: Callable[[Registry], None], proc: str = "/proc"):
        super().__init__(auto_describe=False)
        self._scrape = _Scrape(build)
        self.register(self._scrape)
        self._system: tuple[Collector, ...] = (ProcessCollector(proc=proc, registry=self),
                                               PlatformCollector(registry=self))

    def collected(self) -> CollectedPage:
        """The runner's families collected now — call it where the runner's state lives — with
        the process's and the platform's to be read when the page is rendered."""
        return CollectedPage.of(self._scrape.registry(), self._system)


def runner_registry(build: Callable[[Registry], None], proc: str = "/proc") -> RunnerRegistry:
    """The runner's own registry: its families (``build(registry)`` at each scrape), then the
    process's (``/proc/self`` under ``proc``; none where there is no ``/proc``) and the platform's.
    A registry of its own, never the library's global one: two runners in one process (the
    tests, a shard's) each have theirs, and nothing else the process imports adds to the page."""
    return RunnerRegistry(build, proc)


def exposition(registry: Collector) -> str:
    """``registry``'s families as the text ``/metrics`` serves (see :data:`CONTENT_TYPE`)."""
    return generate_latest(registry).decode("utf-8")


def render_collected(collect) -> str:
    """The exposition text of what ``collect(registry)`` registers in a registry of its own: a
    part's families alone (its tests, a debugging look), the same lines ``/metrics`` shows."""
    registry = Registry()
    collect(registry)
    return registry.render()
