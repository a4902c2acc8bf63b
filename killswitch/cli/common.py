"""Options, exit codes and helpers shared by every ``ksctl`` command."""

from __future__ import annotations

import click

# Documented exit codes (README, `ksctl --help`).
EXIT_OK = 0
EXIT_FINDINGS = 1  # policy errors (or warnings with --strict), a plan with changes
EXIT_USAGE = 2  # bad command line (click's own code for usage errors)
EXIT_INTERNAL = 3  # a bug: reported, never silent


def output_formats(*formats: str):
    """The ``--output``/``-o`` option offering ``formats``; the first is the default."""
    return click.option("--output", "-o", type=click.Choice(list(formats)), default=formats[0], show_default=True,
                        help="Output format; json is versioned (format_version).")


output_option = output_formats("text", "json")


def duration_s(text: str, option: str) -> float:
    """``300s`` / ``6h`` → seconds; a bad value is a usage error (exit 2)."""
    from ..policy.units import UnitError, parse_duration

    try:
        d = parse_duration(text)
    except UnitError as e:
        raise click.BadParameter(e.message, param_hint=option) from None
    if d.ms <= 0:
        raise click.BadParameter("must be longer than 0s", param_hint=option)
    return d.ms / 1000


def compile_paths(paths: tuple[str, ...], templates=None, allow_empty: bool = False):
    """Read, load and compile policy sources. Returns (CompileResult, number of files read).
    Empty input is an error (KS007) unless ``allow_empty``."""
    from ..sources import compile_sources

    result, files = compile_sources(paths, templates, allow_empty)
    return result, len(files)


def compile_or_exit(paths: tuple[str, ...], what: str):
    """The compile result of ``paths``; on errors print them and exit 1 (a graph is needed)."""
    return compile_or_exit_counted(paths, what)[0]


def compile_or_exit_counted(paths: tuple[str, ...], what: str):
    """:func:`compile_or_exit`, with the number of files read."""
    from ..render.diagnostics import diagnostic_text

    result, files = compile_paths(paths)
    if result.graph is None:
        for x in result.errors:
            click.echo(diagnostic_text(x), err=True)
        click.echo(f"ksctl {what}: the policies have errors; run ksctl validate", err=True)
        raise SystemExit(EXIT_FINDINGS)
    return result, files
