"""The REST weight a runner's requests cost each venue, against the venue's per-IP budget.

What it owns: :class:`VenueWeights`, read by the status (``venue_weight``) and ``/metrics``
(``killswitch_venue_weight_used_per_minute{venue}``,
``killswitch_venue_weight_limit_per_minute{venue}``): per venue, the weight of the last minute
summed over its accounts (they share the runner's IP), counted request by request at
what each costs the venue (``adapters.ccxt_exchange.budget.WeightMeter``); where the venue's
answers carry its own count of the IP's weight (Binance: ``X-MBX-USED-WEIGHT-1M``), the latest
fresh one is reported instead (it also counts other clients of the IP), and ``source`` says which;
and the requests that waited for a venue's limit of one endpoint on its own (OKX's positions, 10
per 2 s) and the seconds they waited, by endpoint (``endpoint_waits``;
``killswitch_venue_endpoint_waits_total{venue,endpoint}``,
``killswitch_venue_endpoint_wait_seconds_total{venue,endpoint}``): a halt's closes slowed by it
are otherwise only slower closes.

Must not: change anything, or import the adapters (it reads what each account's port says of
its ``weight()``; an account whose adapter is not weighed, the simulated one, is not counted).
"""

from __future__ import annotations

from typing import Any, Mapping

from ...runner.venue.port import VenuePort


class VenueWeights:
    """See the module doc. ``venues``: the accounts' ports, by account key."""

    def __init__(self, venues: Mapping[str, VenuePort]):
        self.venues = venues

    def status(self) -> dict:
        """venue → used_per_minute (what is reported), source ("venue": its own count, "counted":
        ours), counted_per_minute, venue_per_minute (None without one), limit_per_minute (None:
        no per-IP limit), unit, per ("ip" | "uid"), accounts, endpoint_waits ("METHOD path" →
        {waits, seconds}, since each account started)."""
        out: dict[str, dict] = {}
        fresh: dict[str, tuple[float, float]] = {}  # venue → (age, count) of its latest count
        for port in self.venues.values():
            if (weighed := port.weight()) is None:
                continue
            (meter, limit), venue = weighed, port.venue
            row = out.setdefault(venue, {
                "used_per_minute": 0.0, "source": "counted", "counted_per_minute": 0.0, "venue_per_minute": None,
                "limit_per_minute": limit.per_minute if limit is not None else None,
                "unit": limit.unit if limit is not None else "ccxt cost",
                "per": limit.per if limit is not None else None,
                "accounts": 0, "endpoint_waits": {}})
            row["counted_per_minute"] += meter.used()
            row["accounts"] += 1
            waits = getattr(meter, "endpoint_waits", None)
            for endpoint, (n, seconds) in (waits() if callable(waits) else {}).items():
                total = row["endpoint_waits"].setdefault(endpoint, {"waits": 0, "seconds": 0.0})
                total["waits"] += n
                total["seconds"] = round(total["seconds"] + seconds, 3)
            count = meter.venue_count()
            if count is not None and (venue not in fresh or count[0] < fresh[venue][0]):
                fresh[venue] = count
        for venue, row in out.items():
            row["counted_per_minute"] = round(row["counted_per_minute"], 3)
            if venue in fresh:
                row["venue_per_minute"] = fresh[venue][1]
                row["used_per_minute"], row["source"] = fresh[venue][1], "venue"
            else:
                row["used_per_minute"] = row["counted_per_minute"]
        return dict(sorted(out.items()))

    def collect_metrics(self, reg: Any) -> None:
        used = reg.sampled("killswitch_venue_weight_used_per_minute", "gauge",
                           "REST weight of the last minute on each venue, in its unit (the venue's own count "
                           "of the IP where its answers carry one, else this runner's requests counted).",
                           ("venue",))
        limit = reg.sampled("killswitch_venue_weight_limit_per_minute", "gauge",
                            "The venue's per-IP REST weight limit a minute, as its dialect declares it.", ("venue",))
        waits = reg.sampled("killswitch_venue_endpoint_waits_total", "counter",
                            "Requests that waited for the venue's limit of their endpoint on its own "
                            "(its requests per window, e.g. OKX's positions: 10 per 2 s).", ("venue", "endpoint"))
        waited = reg.sampled("killswitch_venue_endpoint_wait_seconds_total", "counter",
                             "Seconds requests waited for the venue's limit of their endpoint on its own.",
                             ("venue", "endpoint"))
        for venue, row in self.status().items():
            used.add(row["used_per_minute"], venue=venue)
            if row["limit_per_minute"] is not None:
                limit.add(row["limit_per_minute"], venue=venue)
            for endpoint, w in row["endpoint_waits"].items():
                waits.add(w["waits"], venue=venue, endpoint=endpoint)
                waited.add(w["seconds"], venue=venue, endpoint=endpoint)
