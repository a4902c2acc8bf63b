"""``ksctl routes test``: which receivers a notification with given labels would reach, and why."""

from __future__ import annotations

import click

from .common import EXIT_FINDINGS, EXIT_OK, SuggestingGroup, max_file_size_option, output_option


def _pairs(values: tuple[str, ...], option: str) -> dict[str, str]:
    """Labels as given: the value is everything after the first "=", spaces and all, as the
    runner would carry it (``reason= x`` is " x", which a route matching "x" does not match);
    spaces around a name are dropped (a label name never has any)."""
    out: dict[str, str] = {}
    for raw in values:
        key, sep, value = raw.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{raw!r} is not k=v", param_hint=option)
        out[key.strip()] = value
    return out


def _label_sets(values: tuple[str, ...]) -> list[dict[str, str]]:
    return [_pairs(tuple(x for x in v.split(",") if x.strip()), "--active") for v in values]


@click.group(cls=SuggestingGroup)
def routes() -> None:
    """Notification routes (NotificationRoutes documents)."""


@routes.command(epilog="""\b
Examples:
  ksctl routes test --label policy=futures-book --label stage=flatten --label level=3 \\
      --label severity=critical --label scope=binanceusdm/main --label venue=binanceusdm
  ksctl routes test --routes policies/ --label stage=reduce-top-risk --label scope=x \\
      --active stage=flatten,scope=x
  ksctl routes test --verify-receivers pager        # sends a test notification to "pager"
Exit codes: 0 ok, 1 a receiver could not be verified (or the documents have errors), 2 usage.
A failed check says why: connection refused, DNS lookup failed, HTTP 401, timeout after 10s, ...
Receivers are shown by name and their targets by reference; secret values are never printed.
""")
@click.option("--label", "labels", multiple=True, metavar="K=V", help="A label of the notification (repeat).")
@click.option("--routes", "paths", multiple=True, type=click.Path(exists=True), default=("policies",),
              show_default=True, help="Policy directory or files holding the NotificationRoutes documents.")
@click.option("--active", multiple=True, metavar="K=V,K=V",
              help="Labels of an alert already active, for inhibit rules (repeat for several).")
@click.option("--verify-receivers", "verify", multiple=True, metavar="RECEIVER",
              help="Send a test notification to this receiver and report the result (repeat).")
@click.option("--timeout", default="10s", show_default=True, help="Time limit of a test notification.")
@max_file_size_option
@output_option
def test(labels, paths, active, verify, timeout, max_file_bytes, output) -> None:
    """Say where a notification with these labels would go: routes documents, route path,
    receivers, group key, timers, and whether an inhibit rule would mute it."""
    from ..notify.explain import explain
    from ..notify.routes import trees_of
    from ..policy.diagnostics import did_you_mean
    from ..policy.units import UnitError, parse_duration
    from ..render.routes import routes_json, routes_text
    from .common import compile_or_exit

    if not labels and not verify:
        raise click.UsageError("give --label k=v (where would it go?) or --verify-receivers R (does R work?)")
    try:
        timeout_s = parse_duration(timeout).seconds
    except UnitError as e:
        raise click.BadParameter(e.message, param_hint="--timeout") from None
    given = _pairs(labels, "--label")
    actives = _label_sets(active)
    result = compile_or_exit(tuple(paths), "routes test", max_file_bytes)
    trees = trees_of(result.docs)
    if not trees:
        raise click.UsageError(f"no NotificationRoutes document in {', '.join(paths)}")
    known = {r for t in trees.values() for r in t.receivers}
    unknown = sorted(set(verify) - known)
    if unknown:
        close = [f'"{u}" (did you mean "{m}"?)' if (m := did_you_mean(u, known)) else f'"{u}"' for u in unknown]
        raise click.BadParameter(f"no receiver named {', '.join(close)}; receivers: {', '.join(sorted(known))}",
                                 param_hint="--verify-receivers")
    answer = explain(given, trees, result.graph, actives) if given else None
    checks = [_verify(trees[t], name, timeout_s) for name in dict.fromkeys(verify) for t in trees
              if name in trees[t].receivers]
    click.echo(routes_json(answer, checks) if output == "json" else routes_text(answer, checks), nl=output == "json")
    raise SystemExit(EXIT_FINDINGS if any(not c["ok"] for c in checks) else EXIT_OK)


def _verify(tree, name: str, timeout_s: float) -> dict:
    """Resolve one receiver's secrets and send it a test notification."""
    import time

    from ..notify.causes import cause_of_result
    from ..notify.message import verification_message
    from ..notify.receivers import ReceiverError, describe_target, resolve_receiver

    spec = next(r for r in tree.model.spec.receivers if r.name == name)
    out = {"routes": tree.name, "receiver": name, "targets": [describe_target(t) for t in spec.apprise],
           "result": "unresolved", "ok": False, "elapsed_ms": 0, "problems": [], "cause": None}
    try:
        rcv = resolve_receiver(spec, timeout_s=timeout_s, doc=tree.name)
    except ReceiverError as e:
        out.update(problems=e.problems, cause=cause_of_result("unresolved", problems=e.problems))
        return out
    res = rcv.send(verification_message(name, int(time.time() * 1000)), timeout_s)
    # the cause is built from a fixed vocabulary (connection refused, HTTP 401, timeout after 10s):
    # what apprise logged, which may quote the URL and its token, is never printed
    out.update(result=res.result, ok=res.ok, elapsed_ms=int(res.elapsed_s * 1000), cause=res.cause)
    return out
