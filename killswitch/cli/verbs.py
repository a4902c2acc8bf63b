"""The ``ksctl`` verbs made from the operations' table (:mod:`killswitch.view.operations`):
each entry that names a ``verb`` is a command with the options of every command that talks to a
runner (:mod:`.apiopts`; no token for what anyone may call), one option for each field of its
body, and its entry's help. A change is sent as the caller's token and ends as every change does
(:func:`.apiopts.change`: its reason, exit 0 done, 1 refused, 2 usage, 5 unreachable); a read
prints its answer as its entry's ``shown`` module of :mod:`killswitch.render` says (none: as the
API wrote it), exit 0.

A verb of a group (``dms arm``) is added to its group by :func:`attach`; one of a word (``unlock``)
is found by ``ksctl``'s own group (:mod:`.main`). A verb with a preview, a confirmation or a body
the fields cannot say is a module of its own.
"""

from __future__ import annotations

import importlib
from typing import Any, NoReturn, Optional

import click

from ..client.calls import name_of
from ..render.ops import api_json
from ..view.operations import COUNT, OPERATIONS, PUBLIC, SECONDS, Arg, Operation
from .apiopts import api_option, change, read, runner_client, token_option
from .common import EXIT_OK, duration_s, output_option, spelled

VERBS = {tuple(op.verb.split()): op for op in OPERATIONS if op.verb}


def flag(a: Arg) -> str:
    """The option ``a`` is given by: its own, else its name (seconds without their ``_s``)."""
    name = a.name[:-2] if a.kind == SECONDS and a.name.endswith("_s") else a.name
    return a.flag or "--" + name.replace("_", "-")


def _option(a: Arg) -> Any:
    kind = click.IntRange(1, int(a.limit)) if a.kind == COUNT else None
    return click.option(flag(a), a.name, required=a.required and not a.old, type=kind,
                        metavar=a.metavar, help=a.help)


def command(op: Operation) -> click.Command:
    """The ``ksctl`` command of ``op``."""

    def run(api: str, output: str, token_env: Optional[str] = None, **given: Any) -> NoReturn:
        fields = {a.name: _value(op, a, given) for a in op.args}
        client = runner_client(api, token_env, required=op.write is not None)
        call = getattr(client, name_of(op))
        if op.write is not None:  # the role a 401's hint names: the first the entry lets in
            change(lambda: call(**fields), output, role=op.roles[0] if op.roles else "operator")
        answer = read(lambda: call(**fields), op.verb, output, token_env)
        if op.shown:
            render = importlib.import_module(f"killswitch.render.{op.shown}")
            click.echo(getattr(render, f"{op.shown}_{output}")(answer))
        else:  # a read with no renderer of its own: as the API wrote it, text or json
            click.echo(api_json(answer))
        raise SystemExit(EXIT_OK)

    f = output_option(run)
    for a in reversed(op.args):
        f = _option(a)(f)
    for a in [a for a in op.args if a.old]:
        f = click.argument(f"{a.name}_arg", metavar=f"[{a.old}]", required=False)(f)
    f = api_option(f if op.roles is PUBLIC else token_option(f))
    return click.command(op.verb.split()[-1], help=op.help or op.doc)(f)


def _value(op: Operation, a: Arg, given: dict[str, Any]) -> Any:
    """The value of field ``a`` as given (by its deprecated positional, said so; a duration, in seconds)."""
    value = given[a.name]
    if a.old:
        value = spelled(op.verb, flag(a), value, f"{a.old} (a positional)", given[f"{a.name}_arg"], a.required)
    return duration_s(value, flag(a)) if a.kind == SECONDS and value is not None else value


def attach(group: click.Group) -> None:
    """Add to ``group`` the verbs of the table that are its (``dms arm``, ``dms status``...)."""
    for words, op in VERBS.items():
        if words[:-1] == (group.name,):
            group.add_command(command(op))
