"""Entry point of ``ksctl``. Sub-commands are imported only when called, so that ``ksctl validate``
never pays for the exchange, telemetry or notification libraries."""

from __future__ import annotations

import importlib
import os
import sys

# ksctl's documents are validated by pydantic without the third-party pydantic plugins an
# environment may hold: finding them scans every installed distribution's entry points (~20 ms
# of ``ksctl validate``), and a plugin that observes every validation has no place in a runner's
# tick. An operator who wants them sets PYDANTIC_DISABLE_PLUGINS (empty: every plugin loads).
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

import click  # noqa: E402

from .. import DISTRIBUTION
from .common import EXIT_INTERNAL, SuggestingGroup

COMMANDS = {
    "validate": ("killswitch.cli.validate", "validate", "Check policy files and report every problem."),
    "schema": ("killswitch.cli.schema", "schema", "Print the JSON Schema of a document kind."),
    "graph": ("killswitch.cli.graph", "graph", "Draw the compiled decision graph (mermaid or dot)."),
    "replay": ("killswitch.cli.replay", "replay", "Replay recorded snapshots through policies; nothing is sent."),
    "test": ("killswitch.cli.test", "test", "Run policy unit tests (PolicyTest files)."),
    "plan": ("killswitch.cli.plan", "plan", "Preview what the policies would do, live or over a recording."),
    "status": ("killswitch.cli.ops", "status", "The running runner: stages, trading locks, resumptions, data ages."),
    "reset": ("killswitch.cli.ops", "reset", "Approve the reset of a latched stage."),
    "close": ("killswitch.cli.close", "close", "Emergency close of a scope: its plan first, sent once confirmed."),
    "heartbeat": ("killswitch.cli.ops", "heartbeat", "Tell the runner a bot is alive."),
    "check-order": ("killswitch.cli.check_order", "check_order",
                    "Ask the runner's pre-trade gate whether an order may be sent now."),
    "history": ("killswitch.cli.ops", "history", "The order journal and the audit chain's integrity."),
    "audit": ("killswitch.cli.ops", "audit", "Verify the audit chain (ksctl audit verify)."),
    "lock": ("killswitch.cli.ops", "lock", "Lock trading on a scope by hand (bots see it in the lock)."),
    "kill": ("killswitch.cli.kill", "kill", "Kill trading across the firm (--firm), previewed; --release by two."),
    "revoke": ("killswitch.cli.revoke", "revoke", "Revoke the bots' trading at the venue (or --restore it)."),
    "dms": ("killswitch.cli.dms", "dms", "Dead man's switch: arm, disarm, status."),
    "silence": ("killswitch.cli.silence", "silence", "Silence pages (add, list, expire), as Alertmanager does."),
    "override": ("killswitch.cli.override", "override",
                 "Override one pre-trade limit for a while: requested, approved by another, audited."),
    "ack": ("killswitch.cli.silence", "ack", "Say you have an incident: shown in status, console and runbook."),
    "routes": ("killswitch.cli.routes", "routes", "Where would a notification go? (ksctl routes test)"),
    "runbook": ("killswitch.cli.runbook", "runbook", "Render an incident's runbook again."),
    "report": ("killswitch.cli.report", "report", "Write a closure report from the audit trail."),
    "diff": ("killswitch.cli.diff", "diff", "Replay two policy revisions and show where their decisions differ."),
    "drift": ("killswitch.cli.drift", "drift", "Does each runner run what git holds? In sync, behind, diverged."),
    "token": ("killswitch.cli.token", "token", "Make an API token for one identity; check a tokens document."),
    "pr": ("killswitch.cli.pr", "pr", "A policy pull request and the forge: other open ones on the same policies."),
    "shards": ("killswitch.cli.shards", "shards", "Which shard holds which accounts and policies; the firm-wide ones."),
    "run": ("killswitch.cli.run", "run", "Run the kill switch: tick, decide, act, lock, serve the API."),
    "demo": ("killswitch.cli.demo", "demo", "Run the runner against the simulated exchange through a crash."),
}


class LazyGroup(SuggestingGroup):
    """The commands of COMMANDS, and the verbs of a word made from the operations' table
    (:mod:`.verbs`), which is read only to list them or to run one."""

    def list_commands(self, ctx):
        from .verbs import VERBS

        return sorted({*COMMANDS, *(words[0] for words in VERBS if len(words) == 1)})

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            from .verbs import VERBS, command

            return command(VERBS[(name,)]) if (name,) in VERBS else None
        module, attr, _ = COMMANDS[name]
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx, formatter):
        rows = [(name, COMMANDS[name][2] if name in COMMANDS else self.get_command(ctx, name).get_short_help_str(99))
                for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]}, epilog="""\b
Exit codes: 0 ok, 1 findings or a refusal (policy errors, or warnings with --strict; a change the runner
refused), 2 usage (also a token the runner does not know), 3 internal error, 4 an audit chain consistent
but UNVERIFIED, 5 the runner could not be reached. See docs/cli.md.
""")
@click.version_option(package_name=DISTRIBUTION, prog_name="ksctl")
def cli() -> None:
    """killswitch: declarative kill switches for algorithmic trading."""


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="ksctl", standalone_mode=True)
    except SystemExit:
        raise
    except Exception as e:  # a bug: say so, with a code scripts can tell from findings
        import os

        from ..logs import Scrubber

        # its text may quote what it failed on: scrubbed like a log line
        click.echo(Scrubber.from_environment(os.environ)(f"ksctl: internal error: {type(e).__name__}: {e}"), err=True)
        sys.exit(EXIT_INTERNAL)


if __name__ == "__main__":  # pragma: no cover
    main()
