"""A small Prometheus metrics registry: counters, gauges and histograms, rendered as text.

``/metrics`` is one :class:`Registry`, built at each scrape by the runner
(``runner/readout.py``): the runner's own families are :class:`Sampled` (values read from its
book at the scrape), the lease thread and the sinks add theirs (``collect_metrics(registry)``),
and a sink that keeps a registry of its own (telemetry) is :meth:`Registry.include`-d. A family
is registered once: a second one of the same name is an error, never a second block of lines.
Every family has ``# HELP`` and ``# TYPE``; nothing writes exposition lines by hand. Why not a
library: the metrics are a dozen, and the text format (version 0.0.4) is simple;
``prometheus_client`` would bring a global registry to keep out of the way, and the
OpenTelemetry metrics SDK would need a Prometheus exporter (another dependency) and a
translation of dotted names. This registry is owned by its sink, thread-safe (notifications are
reported from their delivery workers), and renders ``# HELP`` / ``# TYPE`` lines, cumulative
``_bucket{le=…}``, ``_sum`` and ``_count``.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import math
import re
import threading
from typing import Iterable, Sequence

_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")

# seconds: from a fast in-memory tick to one waiting on a slow exchange (snapshot timeout 10 s)
TICK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def escape(value: str) -> str:
    """A label value as the text format wants it."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def number(value: float) -> str:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


class _Metric:
    kind = ""

    def __init__(self, name: str, help: str, labels: Sequence[str], lock: threading.Lock):
        if not _NAME.match(name):
            raise ValueError(f"bad metric name {name!r}")
        for label in labels:
            if not _LABEL.match(label) or label.startswith("__") or label == "le":
                raise ValueError(f"bad label name {label!r} for {name}")
        self.name = name
        self.help = help
        self.labels = tuple(labels)
        self._lock = lock

    def _key(self, labels: dict) -> tuple[str, ...]:
        if set(labels) != set(self.labels):
            raise ValueError(f"{self.name} takes labels {list(self.labels)}, got {sorted(labels)}")
        return tuple(str(labels[k]) for k in self.labels)

    def _labelset(self, key: tuple[str, ...], extra: str = "") -> str:
        parts = [f'{k}="{escape(v)}"' for k, v in zip(self.labels, key)]
        if extra:
            parts.append(extra)
        return "{" + ",".join(parts) + "}" if parts else ""

    def header(self) -> list[str]:
        text = self.help.replace("\\", "\\\\").replace("\n", "\\n")
        return [f"# HELP {self.name} {text}", f"# TYPE {self.name} {self.kind}"]

    def lines(self) -> list[str]:  # pragma: no cover - every kind overrides it
        raise NotImplementedError


class Counter(_Metric):
    kind = "counter"

    def __init__(self, name, help, labels, lock):
        if not name.endswith("_total"):
            raise ValueError(f"a counter's name ends in _total: {name!r}")
        super().__init__(name, help, labels, lock)
        self._values: dict[tuple[str, ...], float] = {}

    def inc(self, amount: float = 1, **labels) -> None:
        if amount < 0:
            raise ValueError(f"{self.name}: a counter only goes up")
        key = self._key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0) + amount

    def value(self, **labels) -> float:
        with self._lock:
            return self._values.get(self._key(labels), 0)

    def lines(self) -> list[str]:
        return [f"{self.name}{self._labelset(k)} {number(v)}" for k, v in sorted(self._values.items())]


class Gauge(_Metric):
    kind = "gauge"

    def __init__(self, name, help, labels, lock):
        super().__init__(name, help, labels, lock)
        self._values: dict[tuple[str, ...], float] = {}

    def set(self, value: float, **labels) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = value

    def value(self, **labels) -> float | None:
        with self._lock:
            return self._values.get(self._key(labels))

    def lines(self) -> list[str]:
        return [f"{self.name}{self._labelset(k)} {number(v)}" for k, v in sorted(self._values.items())]


class Histogram(_Metric):
    kind = "histogram"

    def __init__(self, name, help, labels, lock, buckets: Iterable[float]):
        super().__init__(name, help, labels, lock)
        bs = sorted(float(b) for b in buckets)
        if not bs or any(math.isinf(b) or math.isnan(b) for b in bs) or len(set(bs)) != len(bs):
            raise ValueError(f"{name}: buckets must be distinct finite numbers")
        self.buckets = tuple(bs)
        self._series: dict[tuple[str, ...], list] = {}  # key → [counts per bucket…, +Inf count, sum]

    def observe(self, value: float, **labels) -> None:
        key = self._key(labels)
        with self._lock:
            s = self._series.get(key)
            if s is None:
                s = self._series[key] = [0] * (len(self.buckets) + 1) + [0.0]
            for i, b in enumerate(self.buckets):
                if value <= b:
                    s[i] += 1
                    break
            else:
                s[len(self.buckets)] += 1
            s[-1] += value

    def count(self, **labels) -> int:
        with self._lock:
            s = self._series.get(self._key(labels))
            return sum(s[:-1]) if s else 0

    def lines(self) -> list[str]:
        out = []
        for key, s in sorted(self._series.items()):
            cumulative = 0
            for b, n in zip(self.buckets + (math.inf,), s[:-1]):
                cumulative += n
                le = 'le="' + number(b) + '"'
                out.append(f"{self.name}_bucket{self._labelset(key, le)} {cumulative}")
            out.append(f"{self.name}_sum{self._labelset(key)} {number(s[-1])}")
            out.append(f"{self.name}_count{self._labelset(key)} {cumulative}")
        return out


class Sampled(_Metric):
    """A family whose values are read at the scrape (a count or a gauge kept elsewhere): ``add``
    one sample per label set. Counters, gauges and untyped families only."""

    def __init__(self, name, help, labels, lock, kind: str):
        if kind not in ("counter", "gauge", "untyped"):
            raise ValueError(f"{name}: a sampled family is a counter, a gauge or untyped, not {kind!r}")
        if kind == "counter" and not name.endswith("_total"):
            raise ValueError(f"a counter's name ends in _total: {name!r}")
        if not help.strip():
            raise ValueError(f"{name}: a family needs its help text")
        super().__init__(name, help, labels, lock)
        self.kind = kind
        self._values: dict[tuple[str, ...], float] = {}

    def add(self, value: float, **labels) -> "Sampled":
        key = self._key(labels)
        with self._lock:
            if key in self._values:
                raise ValueError(f"{self.name}{self._labelset(key)} sampled twice")
            self._values[key] = value
        return self

    def lines(self) -> list[str]:
        return [f"{self.name}{self._labelset(k)} {number(v)}" for k, v in sorted(self._values.items())]


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
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
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


class Registry:
    """Metrics by name; :meth:`render` is the exposition text (metrics in registration order)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._metrics: dict[str, _Metric] = {}

    def _add(self, metric: _Metric) -> _Metric:
        if metric.name in self._metrics:
            raise ValueError(f"metric {metric.name} is registered twice")
        self._metrics[metric.name] = metric
        return metric

    def counter(self, name: str, help: str, labels: Sequence[str] = ()) -> Counter:
        return self._add(Counter(name, help, labels, self._lock))  # type: ignore[return-value]

    def gauge(self, name: str, help: str, labels: Sequence[str] = ()) -> Gauge:
        return self._add(Gauge(name, help, labels, self._lock))  # type: ignore[return-value]

    def histogram(self, name: str, help: str, labels: Sequence[str] = (),
                  buckets: Iterable[float] = LATENCY_BUCKETS) -> Histogram:
        return self._add(Histogram(name, help, labels, self._lock, buckets))  # type: ignore[return-value]

    def sampled(self, name: str, kind: str, help: str, labels: Sequence[str] = ()) -> Sampled:
        """A family whose samples are added now, for this rendering (see :class:`Sampled`)."""
        return self._add(Sampled(name, help, labels, self._lock, kind))  # type: ignore[return-value]

    def include(self, other: "Registry") -> None:
        """Render ``other``'s metrics (a sink's long-lived registry) as this registry's own: one
        name space, so a name in both is an error."""
        for m in other.metrics():
            self._add(m)

    def names(self) -> list[str]:
        return list(self._metrics)

    def metrics(self) -> list[_Metric]:
        with self._lock:
            return list(self._metrics.values())

    def render(self) -> str:
        out: list[str] = []
        for m in self.metrics():
            with m._lock:  # an included metric is written to under its own registry's lock
                out += m.header()
                out += m.lines()
        return "\n".join(out) + "\n" if out else ""


def render_collected(collect) -> str:
    """The exposition text of what ``collect(registry)`` registers in a registry of its own: a
    part's families alone (its tests, a debugging look), the same lines ``/metrics`` shows."""
    registry = Registry()
    collect(registry)
    return registry.render()
