"""The span and span-event attribute names of killswitch, in one place.

OpenTelemetry's naming rules: lowercase, dot-separated namespaces, snake_case within a
component, ``{object}.{property}``, and a name never doubles as a namespace (there is a
``killswitch.trigger.name`` per comparison, so the list of firing triggers is
``killswitch.triggers.firing``). Where a semantic convention has the meaning, it is used:
``error.type`` carries the reason code of a failure, ``service.*`` lives in the resource.

Values never carry secrets: no URL, header, token or credential goes into an attribute.

Pure: no I/O, no OpenTelemetry import (other sinks read these names without loading the SDK).
"""

from __future__ import annotations

# the tracer (instrumentation scope) every killswitch span comes from
TRACER_NAME = "killswitch"

# span names
SPAN_TICK = "killswitch.tick"
SPAN_PHASE_PREFIX = "killswitch."  # + phase: killswitch.snapshots, killswitch.evaluate, … killswitch.reconcile
SPAN_SCOPE = "killswitch.scope.evaluate"
SPAN_DECISION = "killswitch.decision"
SPAN_ORDER = "killswitch.order"
SPAN_NOTIFICATION = "killswitch.notification"
SPAN_RUNBOOK = "killswitch.runbook.render"
SPAN_EVENT = "killswitch.event"  # an event outside a tick: reset, manual close, failed reload…
EVENT_THRESHOLD = "killswitch.threshold"  # span event: one comparison of a trigger condition

# the graph
GRAPH_DIGEST = "killswitch.graph.digest"
GRAPH_REVISION = "killswitch.graph.revision"
POLICY = "killswitch.policy.name"
POLICY_OWNER = "killswitch.policy.owner"
SCOPE = "killswitch.scope.name"
VENUE = "killswitch.venue.name"
ACCOUNT = "killswitch.account.name"

# the runner and the tick
RUNNER_HOLDER = "killswitch.runner.holder"
RUNNER_LEADER = "killswitch.runner.leader"
RUNNER_MODE = "killswitch.runner.mode"  # live | dry-run
LEASE_FENCE = "killswitch.lease.fence"
TICK_TS_MS = "killswitch.tick.ts_ms"  # the runner's clock (the decisions' time), UTC ms
TICK_SCOPES = "killswitch.tick.scopes"
TICK_SCOPE_SPANS_OMITTED = "killswitch.tick.scope_spans_omitted"
TICK_TRANSITIONS = "killswitch.tick.transitions"
TICK_ORDERS = "killswitch.tick.orders"
TICK_DEPOSED = "killswitch.tick.deposed"
SNAPSHOT_FAILURES = "killswitch.snapshot.failures"  # ["venue/account: CODE", …]

# scope evaluation and decisions
STAGE_LEVEL = "killswitch.stage.level"
STAGE_NAME = "killswitch.stage.name"
STAGE_FROM = "killswitch.stage.from"
STAGE_TO = "killswitch.stage.to"
STAGE_REFUSALS = "killswitch.stage.refusals"  # why the stage did not move: ["COOLDOWN_ACTIVE: …", …]
TRIGGERS_FIRING = "killswitch.triggers.firing"
TRIGGERS_PENDING = "killswitch.triggers.pending"  # ["soft: 2/3 ticks", …]
SIGNALS_VALUES = "killswitch.signals.values"  # ["dd=4.12%", "stale=unknown (NO_DATA)"]
DECISION_ID = "killswitch.decision.id"
DECISION_KIND = "killswitch.decision.kind"  # entered | reentered | reset
DECISION_REASON = "killswitch.decision.reason"  # "ESCALATED: stage=0->1 triggers=soft"
DECISION_REASON_CODE = "killswitch.decision.reason_code"  # "ESCALATED"
DECISION_THRESHOLDS = "killswitch.decision.thresholds"  # ["hard: dd=4.12% >= 4% breached", …]
DECISION_ORDERS = "killswitch.decision.orders"  # orders the entry planned
DRY_RUN = "killswitch.dry_run"

# one comparison of a trigger condition (attributes of a killswitch.threshold span event)
TRIGGER_NAME = "killswitch.trigger.name"
TRIGGER_FIRING = "killswitch.trigger.firing"
SIGNAL_NAME = "killswitch.signal.name"
SIGNAL_VALUE = "killswitch.signal.value"  # fractions for ratios, seconds for durations
SIGNAL_REASON = "killswitch.signal.reason"  # why the value is unknown
THRESHOLD_OPERATOR = "killswitch.threshold.operator"
THRESHOLD_VALUE = "killswitch.threshold.value"
THRESHOLD_TEXT = "killswitch.threshold.text"  # as written in the policy: "4.5%", "60s"
THRESHOLD_BREACHED = "killswitch.threshold.breached"  # absent when a side is unknown

# orders
ORDER_CLIENT_ID = "killswitch.order.client_id"
ORDER_SYMBOL = "killswitch.order.symbol"
ORDER_SIDE = "killswitch.order.side"
ORDER_AMOUNT = "killswitch.order.amount"
ORDER_REDUCE_ONLY = "killswitch.order.reduce_only"
ORDER_RESULT = "killswitch.order.result"  # filled, open, rejected, unknown, failed, …
ORDER_REASON_CODE = "killswitch.order.reason_code"
ORDER_FILLED = "killswitch.order.filled"
ORDER_LATENCY_MS = "killswitch.order.latency_ms"
ORDER_RESENT = "killswitch.order.resent"

# events, notifications, runbooks
EVENT_KIND = "killswitch.event.kind"
EVENT_SEVERITY = "killswitch.event.severity"
EVENT_REASON = "killswitch.event.reason"
HEARTBEAT_SOURCE = "killswitch.heartbeat.source"  # the bot a dead man's switch watches
INCIDENT_ID = "killswitch.incident.id"
NOTIFICATION_RECEIVER = "killswitch.notification.receiver"
NOTIFICATION_RESULT = "killswitch.notification.result"  # delivered | failed
NOTIFICATION_ATTEMPT = "killswitch.notification.attempt"
RUNBOOK_TEMPLATE = "killswitch.runbook.template"
RUNBOOK_FORMAT = "killswitch.runbook.format"
RUNBOOK_RESULT = "killswitch.runbook.result"  # rendered | failed

ERROR_TYPE = "error.type"  # OpenTelemetry's own: the reason code of a failure

# Attribute keys that would carry a secret are refused by TelemetrySink.record_span whoever
# passes them: the last dot-component of the key is checked against these words.
SECRET_WORDS = ("url", "uri", "urls", "header", "headers", "token", "password", "secret", "secrets",
                "api_key", "apikey", "key", "credential", "credentials", "authorization", "cookie")


def is_secret_key(key: str) -> bool:
    """True when an attribute key names something that may hold a secret (see SECRET_WORDS)."""
    last = key.rsplit(".", 1)[-1].lower()
    return last in SECRET_WORDS or any(last.endswith("_" + w) for w in SECRET_WORDS)
