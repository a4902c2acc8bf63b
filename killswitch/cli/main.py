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

# name: (its module under killswitch.cli, the help line); the command is the module's function of
# the name (check-order: check_order)
COMMANDS = {
    "validate": ("validate", "Check policy files and report every problem."),
    "schema": ("schema", "Print the JSON Schema of a document kind."),
    "graph": ("graph", "Draw the compiled decision graph (mermaid or dot)."),
    "replay": ("replay", "Replay recorded snapshots through policies; nothing is sent."),
    "test": ("test", "Run policy unit tests (PolicyTest files)."),
    "plan": ("plan", "Preview what the policies would do, live or over a recording."),
    "status": ("ops", "The running runner: stages, trading locks, resumptions, data ages."),
    "reset": ("ops", "Approve the reset of a latched stage."),
    "close": ("close", "Emergency close of a scope: its plan first, sent once confirmed."),
    "heartbeat": ("ops", "Tell the runner a bot is alive."),
    "check-order": ("check_order", "Ask the runner's pre-trade gate whether an order may be sent now."),
    "history": ("ops", "The order journal and the audit chain's integrity."),
    "audit": ("ops", "Verify the audit chain (ksctl audit verify)."),
    "lock": ("ops", "Lock trading on a scope by hand (bots see it in the lock)."),
    "kill": ("kill", "Kill trading across the firm (--firm), previewed; --release by two."),
    "revoke": ("revoke", "Revoke the bots' trading at the venue (or --restore it)."),
    "dms": ("dms", "Dead man's switch: arm, disarm, status."),
    "silence": ("silence", "Silence pages (add, list, expire), as Alertmanager does."),
    "override": ("override", "Override one pre-trade limit for a while: requested, approved by another, audited."),
    "ack": ("silence", "Say you have an incident: shown in status, console and runbook."),
    "routes": ("routes", "Where would a notification go? (ksctl routes test)"),
    "runbook": ("runbook", "Render an incident's runbook again."),
    "report": ("report", "Write a closure report from the audit trail."),
    "diff": ("diff", "Replay two policy revisions and show where their decisions differ."),
    "drift": ("drift", "Does each runner run what git holds? In sync, behind, diverged."),
    "token": ("token", "Make an API token for one identity; check a tokens document."),
    "pr": ("pr", "A policy pull request and the forge: other open ones on the same policies."),
    "shards": ("shards", "Which shard holds which accounts and policies; the firm-wide ones."),
    "run": ("run", "Run the kill switch: tick, decide, act, lock, serve the API."),
    "demo": ("demo", "Run the runner against the simulated exchange through a crash."),
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
        module = importlib.import_module(f".{COMMANDS[name][0]}", __package__)
        return getattr(module, name.replace("-", "_"))

    def format_commands(self, ctx, formatter):
        rows = [(name, COMMANDS[name][1] if name in COMMANDS else self.get_command(ctx, name).get_short_help_str(99))
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
