"""The ``NotificationRoutes`` document: receivers, the routing tree, inhibitions, time intervals.

What it owns: :class:`NotificationRoutes` and :class:`RoutesSpec`, in Alertmanager's shape: a
:class:`Receiver` and its apprise targets (a URL that can carry a token only as a reference,
KS209; ``{env: VAR, default: URL}`` falls back to a plain local URL while VAR is unset), a
:class:`Route` (matchers in Alertmanager's text, read by the silences' parser; label patterns
checked as RE2 compiles them), an :class:`InhibitRule`, and the named time intervals a route
mutes or is active in (:class:`~.time_intervals.model.TimeInterval`, shared with the policies'
trading windows: :mod:`.time_intervals`). The routing itself is ``killswitch/notify/``.

Pure: no I/O.

Annotations here are evaluated as the classes are made (no ``from __future__ import
annotations``), as in every module of the policy models: see :mod:`.model`.
"""

from typing import Annotated, Any, Literal, Optional, Self
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

from .fields import Document
from .patterns import pattern_problem
from .registry import Strict
from .time_intervals.model import TimeInterval
from .units import DurationField

# Apprise schemes whose URL carries no token of its own (a local webhook receiver). Every other
# apprise URL embeds a credential and must come from a secret reference.
PLAIN_URL_SCHEMES = ("json", "jsons", "form", "forms", "xml", "xmls")


def _plain_url(value: Any) -> Any:
    """A URL written in a document must be one that cannot carry a token (a local webhook)."""
    if isinstance(value, str):
        parts = urlsplit(value)
        if parts.scheme not in PLAIN_URL_SCHEMES or parts.username or parts.password:
            raise PydanticCustomError(
                "ks_secret",
                "this notification URL can carry a token; give it as a reference ({env: VAR} or {file: PATH})",
            )
    return value


def _url_or_ref(value: Any) -> Any:
    return {"url": _plain_url(value)} if isinstance(value, str) else value


class AppriseTarget(Strict):
    url: Annotated[Optional[str], BeforeValidator(_plain_url)] = None
    env: Optional[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]] = None
    # beside env only: the plain local URL used while the variable is unset (a set variable wins;
    # a set but empty one is an error), checked as a written URL is
    default: Annotated[Optional[str], BeforeValidator(_plain_url)] = None
    file: Optional[str] = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if self.default is not None and self.env is None:
            raise PydanticCustomError("ks_value", "default is the URL of an {env: VAR} target while VAR is unset; "
                                      "write it beside env")
        if sum(x is not None for x in (self.url, self.env, self.file)) != 1:
            raise PydanticCustomError("ks_value", "a target is a plain local URL, {env: VAR} (with an optional "
                                      "default: URL) or {file: PATH}")
        return self


class Receiver(Strict):
    name: Annotated[str, Field(min_length=1)]
    apprise: Annotated[list[Annotated[AppriseTarget, BeforeValidator(_url_or_ref)]], Field(min_length=1)]
    # told when what it was paged about is over (a scope back at level 0, a fault cleared), as
    # Alertmanager's webhook and PagerDuty receivers are by default
    send_resolved: bool = True


def _label_pattern(pattern: str) -> str:
    """A label pattern RE2 compiles (:mod:`.patterns`), or KS114 at the character it is about."""
    problem = pattern_problem(pattern)
    if problem is not None:
        shown = f' "{pattern}"' if len(pattern) <= 60 else ""
        raise PydanticCustomError("ks_pattern", f"the pattern{shown} {problem.message}",
                                  {"ks_hint": problem.hint, "ks_offset": problem.offset})
    return pattern


# a label's pattern (match_re): RE2, anchored, as Alertmanager's
LabelPatternText = Annotated[str, AfterValidator(_label_pattern)]


def _matcher_line(value: Any) -> Any:
    """A line of ``matchers:`` in Alertmanager's text: one matcher or several
    (``{severity="critical", venue!~"okx|bybit"}``), read by the one parser of matchers (the
    silences'); a bad one is reported where it starts in the line."""
    if not isinstance(value, str):
        return value  # the type check reports it
    from .matchers import SilenceError, parse_matchers  # (its parser and RE2: only where matchers are written)

    try:
        found = parse_matchers(value, max_value=None)
    except SilenceError as e:
        raise PydanticCustomError("ks_matcher", e.reason.removeprefix("BAD_MATCHER: "),
                                  {"offset": e.offset}) from None
    if not found:
        raise PydanticCustomError("ks_matcher", "names no matcher", {"offset": 0})
    return value  # (each pattern compiled by the parser, with RE2: what RE2 refuses is a BAD_MATCHER above)


MatcherLine = Annotated[
    str, BeforeValidator(_matcher_line),
    WithJsonSchema({"type": "string", "description": 'matchers in Alertmanager\'s text: name="value", '
                    'name!="value", name=~"regex", name!~"regex"; several in one line: {a="b", c=~"d"}',
                    "examples": ['severity="critical"', '{venue!~"okx|bybit", stage="flatten"}']}),
]


class Route(Strict):
    receiver: Optional[str] = None
    matchers: list[MatcherLine] = []  # preferred; match / match_re are Alertmanager's older form
    match: dict[str, str] = {}
    match_re: dict[str, LabelPatternText] = {}
    continue_: bool = Field(default=False, alias="continue")
    group_by: list[str] = []
    group_wait: Optional[DurationField] = None
    group_interval: Optional[DurationField] = None
    repeat_interval: Optional[DurationField] = None
    mute_time_intervals: list[str] = []  # names under spec.time_intervals; not inherited
    active_time_intervals: list[str] = []
    routes: list["Route"] = []


class InhibitRule(Strict):
    model_config = ConfigDict(json_schema_extra={"allOf": [
        {"anyOf": [{"required": [f"{side}_matchers"]}, {"required": [f"{side}_match"]}]}
        for side in ("source", "target")]})

    source_matchers: list[MatcherLine] = []  # preferred; source_match / target_match: the older form
    source_match: dict[str, str] = {}
    target_matchers: list[MatcherLine] = []
    target_match: dict[str, str] = {}
    equal: list[str] = []

    @model_validator(mode="after")
    def _both_sides(self) -> Self:
        for side in ("source", "target"):
            if not getattr(self, f"{side}_matchers") and not getattr(self, f"{side}_match"):
                raise PydanticCustomError(
                    "ks_missing", f"an inhibit rule needs {side}_matchers (or {side}_match): without one it "
                    f"would {'mute on any alert' if side == 'source' else 'mute every alert'}",
                    {"ks_hint": f'add {side}_matchers: [\'stage="flatten"\'] (Alertmanager\'s text)'})
        return self


class RoutesSpec(Strict):
    route: Route
    receivers: Annotated[list[Receiver], Field(min_length=1)]
    inhibit_rules: list[InhibitRule] = []
    fallback_receiver: Optional[str] = None
    time_intervals: list[TimeInterval] = []


class NotificationRoutes(Document):
    kind: Literal["NotificationRoutes"] = "NotificationRoutes"
    spec: RoutesSpec
