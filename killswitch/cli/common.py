"""Options, exit codes and helpers shared by every ``ksctl`` command."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

import click

from ..sources import MAX_FILE_BYTES, size_arg

# Documented exit codes (docs/cli.md, `ksctl --help`).
EXIT_OK = 0
EXIT_FINDINGS = 1  # policy errors (or warnings with --strict), a plan with changes
EXIT_USAGE = 2  # bad command line (click's own code for usage errors)
EXIT_INTERNAL = 3  # a bug: reported, never silent
# audit verify, history, report: the audit chain is consistent, but neither the audit key nor an
# exported anchor was given to check it against (a wiped or wholly rewritten chain reads the same)
EXIT_UNVERIFIED = 4
# every command that talks to a runner (status, reset, lock, close, silence, ...): no answer from it
# (connection refused, timed out, a name that does not resolve): nothing was sent, nothing read
EXIT_UNREACHABLE = 5
# ksctl lock: the runner that answered did not lead and no runner did; it stored the lock, which the
# next leader applies the moment it acts (LOCK_STORED, HTTP 202): accepted, not in force yet
EXIT_STORED = 6


def output_formats(*formats: str):
    """The ``--output``/``-o`` option offering ``formats``; the first is the default."""
    return click.option("--output", "-o", type=click.Choice(list(formats)), default=formats[0], show_default=True,
                        help="Output format; json is versioned (format_version).")


output_option = output_formats("text", "json")


class SuggestingGroup(click.Group):
    """A group that answers a command it does not have with the closest ones (``ksctl statu`` →
    did you mean 'status'?), a usage error (exit 2)."""

    def resolve_command(self, ctx: click.Context, args: list[str]):
        name = click.utils.make_str(args[0]) if args else ""
        if args and self.get_command(ctx, name) is None and not name.startswith("-"):
            import difflib

            known = self.list_commands(ctx)
            near = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
            hint = f"; did you mean {' or '.join(repr(n) for n in near)}?" if near else ""
            ctx.fail(f"no command {name!r}{hint} (commands: {', '.join(known)})")
        return super().resolve_command(ctx, args)


def deprecated_option(old: str, new: str, dest: str, metavar: str = "TEXT", **kwargs: Any):
    """``old``, an earlier spelling of option ``new`` kept for scripts: the same value, said to be
    deprecated in the help and when used (:func:`spelled`)."""
    return click.option(old, dest, default=None, metavar=metavar, help=f"Deprecated: use {new} (the same).",
                        **kwargs)


def deprecated_argument(dest: str, metavar: str):
    """A positional kept for scripts where an option is now the spelling (see :func:`spelled`)."""
    return click.argument(dest, metavar=metavar, required=False)


def spelled(command: str, new: str, value: Any, old: str, old_value: Any, required: bool = True) -> Any:
    """The value of option ``new`` given either as it or as its deprecated spelling ``old`` (an
    option or a positional): the old one is said on stderr; both, differing, or neither when
    ``required``, is a usage error."""
    if old_value is not None:
        click.echo(f"ksctl {command}: {old} is deprecated: use {new}", err=True)
        if value is not None and value != old_value:
            raise click.UsageError(f"{new} {value!r} and {old} {old_value!r} differ: give {new} alone")
        return old_value
    if value is None and required:
        raise click.UsageError(f"Missing option '{new}'.")
    return value


def file_output(*files: str):
    """The options of a command that prints a document in a file format (``files``, the first
    what ``text`` prints): ``-o text|json|<files>``, and ``--format <files>``, the older
    spelling of ``-o <file format>``, kept for scripts and said to be deprecated."""
    def decorate(f):
        f = click.option("--format", "fmt", type=click.Choice(list(files)), default=None,
                         help=f"Deprecated: use -o {'|'.join(files)} (the same output).")(f)
        return click.option("--output", "-o", type=click.Choice(["text", "json", *files]), default="text",
                            show_default=True,
                            help=f"Output format: text is {files[0]}; json is versioned.")(f)
    return decorate


def file_format(output: str, fmt: Optional[str], files: tuple[str, ...], command: str) -> str:
    """What a command of :func:`file_output` prints: ``json`` or one of ``files``. A ``--format``
    given is said to be deprecated; one that contradicts ``-o`` is a usage error."""
    if fmt is not None:
        click.echo(f"ksctl {command}: --format is deprecated: use -o {fmt}", err=True)
        if output not in ("text", fmt):
            raise click.UsageError(f"--format {fmt} and -o {output} ask for two outputs: give -o alone "
                                   f"(-o {'|'.join(files)}|json)")
        return fmt
    return files[0] if output == "text" else output

# the risk scores a preview lists for each scope that plans closes (the engine's SCORE_LISTINGS)
scores_option = click.option(
    "--scores", type=click.Choice(["top", "all", "none"]), default="top", show_default=True,
    help="Risk scores (with their components) of each scope that plans closes: top = the 10 highest and "
         "every position a ranking by risk score chose; all = every position (large for a big scope).")


class FileSize(click.ParamType):
    """A size such as ``4MiB``, ``512KB`` or ``2000000`` (bytes); anything else is a usage error
    (exit 2) that lists the forms."""

    name = "size"

    def convert(self, value: Any, param: Optional[click.Parameter], ctx: Optional[click.Context]) -> Any:
        from ..sources import parse_file_size

        if isinstance(value, int):
            return value
        try:
            return parse_file_size(str(value))
        except ValueError as e:
            self.fail(str(e), param, ctx)


# Every command that reads policies takes it; `ksctl run` applies it to every reload as well.
max_file_size_option = click.option(
    "--max-file-size", "max_file_bytes", type=FileSize(), default=size_arg(MAX_FILE_BYTES),
    show_default=True, envvar="KS_MAX_FILE_SIZE", show_envvar=True,
    help="Refuse a policy file over this size without reading it (KS010): 4MiB, 512KB, 2000000 (bytes).")


STATE_URL_FORMS = "sqlite:///path/to/state.db or postgresql://user@host/db"


def state_url_problem(url: str, creates: bool = False) -> Optional[str]:
    """What makes ``url`` no state store URL a command can use, or None. Not a URL of a known
    scheme (only the scheme is quoted: a string that is not a URL may be a DSN with a password);
    a SQLite file that is not there, for a command that reads the store (opening it would create
    an empty store and report on nothing); a SQLite file in a folder that is not there, for one
    that ``creates`` it (``ksctl run``)."""
    head, sep, rest = url.partition("://")
    scheme = head.lower() if sep and head.replace("+", "").replace(".", "").replace("-", "").isalnum() else ""
    if scheme in ("postgresql", "postgres"):
        return None
    if scheme != "sqlite":
        return f"{'unknown scheme ' + repr(scheme) if scheme else 'not a state store URL'}: use {STATE_URL_FORMS}"
    if not rest:
        return f"no file in {url!r}: use {STATE_URL_FORMS}"
    if rest == ":memory:":
        return None
    path = Path(rest)
    if creates:
        if not path.parent.is_dir():
            return (f"no folder {str(path.parent)!r} for the state store {rest!r}: create it, or give a path in a "
                    "folder that exists")
        return None
    if not path.exists():
        return f"no state store at {rest!r} (the file does not exist)"
    return None


class StateUrl(click.ParamType):
    """The ``--state`` of every command (or ``KS_STATE_URL``): a URL :func:`state_url_problem`
    finds nothing wrong with, else a usage error (exit 2) that says what."""

    name = "url"

    def __init__(self, creates: bool = False):
        self.creates = creates

    def convert(self, value: Any, param: Optional[click.Parameter], ctx: Optional[click.Context]) -> Any:
        problem = state_url_problem(str(value), self.creates)
        if problem:
            self.fail(problem, param, ctx)
        return str(value)


DEFAULT_STATE_URL = "sqlite://./killswitch-state.db"


def file_option(flag: str, envvar: str, *, exists: bool = False, help: str):
    """An option naming a file (``exists``: one that must be there when the command starts), also
    read from ``envvar``, which ``--help`` shows."""
    return click.option(flag, default=None, envvar=envvar, show_envvar=True,
                        type=click.Path(exists=exists, dir_okay=False), help=help)


def secret_file_option(ctx: click.Context, param: click.Parameter, value: Optional[str]) -> Optional[str]:
    """A click callback for an option naming a secret file (``--api-token-file``): the path,
    once the file is there, readable and not empty (:func:`killswitch.secret_file.read_secret_file`);
    else a usage error (exit 2) naming the option and the path, never the content."""
    if value is None:
        return None
    from ..secret_file import SecretFileError, read_secret_file

    try:
        read_secret_file(value, f"--{param.name.replace('_', '-')}" if param.name else "the file")
    except SecretFileError as e:
        raise click.BadParameter(f"{e.code}: {e.path}: {e.why}", ctx=ctx, param=param) from None
    return value


def state_url_from_file(path: str, creates: bool = False) -> str:
    """The state URL held by the file at ``path`` (``--state-url-file``, a mounted Secret); a usage
    error (exit 2) naming the option and the path when the file cannot be used or holds no URL a
    store can be at (its content is never said: it may hold a password)."""
    from ..secret_file import SecretFileError, read_secret_file

    hint = "--state-url-file / KS_STATE_URL_FILE"
    try:
        url = read_secret_file(path, "--state-url-file")
    except SecretFileError as e:
        raise click.BadParameter(f"{e.code}: {e.path}: {e.why}", param_hint=hint) from None
    problem = state_url_problem(url, creates)
    if problem:
        head = url.partition("://")[0]
        if head.lower() == "sqlite":  # a SQLite path is no secret: its problem is shown whole
            raise click.BadParameter(f"{path}: {problem}", param_hint=hint)
        raise click.BadParameter(f"STATE_URL_INVALID: {path} holds no state store URL: use {STATE_URL_FORMS} "
                                 "(the content is not shown: it may hold a password)", param_hint=hint)
    return url


def state_option(creates: bool = False, help: str = "The state store: sqlite:///path/to/state.db or "
                                                  "postgresql://user@host/db (its password is never printed).",
                 url_type: Optional[click.ParamType] = None):
    """``--state`` as every command that reads or runs on the state store takes it: the same
    default (the runner's), ``KS_STATE_URL`` (a URL with a password stays out of the process
    list), a usage error (exit 2) for a URL no store can be at. ``creates``: the runner's, which
    creates its SQLite file (its folder must exist).

    With it comes ``--state-url-file`` (``KS_STATE_URL_FILE``): the URL from a file, a mounted
    Secret, so that its password is in neither the environment nor the process list. Given with
    ``--state`` or ``KS_STATE_URL``: a usage error, never a guess of which one is meant.
    ``url_type``: how ``--state`` is checked, when not as every command's (a :class:`StateUrl`)."""
    import functools

    state = click.option("--state", "state_url", type=url_type or StateUrl(creates), default=DEFAULT_STATE_URL,
                         show_default=True,
                         envvar="KS_STATE_URL", show_envvar=True, help=help)
    from_file = click.option(
        "--state-url-file", "state_url_file", default=None, envvar="KS_STATE_URL_FILE", show_envvar=True,
        metavar="PATH", help="A file holding the state URL (a mounted Secret), in place of --state: the URL and its "
                             "password stay out of the environment and the process list.")

    def decorate(f):
        @functools.wraps(f)
        def with_url(*args: Any, state_url_file: Optional[str] = None, **kwargs: Any) -> Any:
            if state_url_file is not None:
                ctx = click.get_current_context()
                source = ctx.get_parameter_source("state_url")
                if source in (click.core.ParameterSource.COMMANDLINE, click.core.ParameterSource.ENVIRONMENT):
                    given = "--state" if source is click.core.ParameterSource.COMMANDLINE else "KS_STATE_URL"
                    raise click.BadParameter(f"give --state-url-file or {given}, not both",
                                             param_hint="--state-url-file / KS_STATE_URL_FILE")
                kwargs["state_url"] = state_url_from_file(state_url_file, creates)
            return f(*args, **kwargs)

        return state(from_file(with_url))

    return decorate


def reading_state(url: str, option: str = "--state") -> str:
    """``url`` for a command that only reads the state store (see :func:`state_url_problem`)."""
    problem = state_url_problem(url)
    if problem:
        raise click.BadParameter(problem, param_hint=option)
    return url


@contextmanager
def store_read(command: str) -> Iterator[None]:
    """A read of the state store: one that fails (a server down, a file that is not a store) is
    said in one line and exits 3."""
    from ..state import StoreError

    try:
        yield
    except StoreError as e:
        click.echo(f"ksctl {command}: STORE_UNREADABLE: {e}", err=True)
        raise SystemExit(EXIT_INTERNAL)


def open_reading(url: str, command: str, audit_key: Any = None):
    """The store at ``url``, opened to read (no migration, no adoption of ``audit_key``), as
    :func:`store_read` says; ``with`` it to close it (every backend is a :class:`~killswitch.state.sql.SqlStore`)."""
    from ..state import open_store

    with store_read(command):
        return open_store(reading_state(url), migrate=False, audit_key=audit_key)


def write_out(path: str, text: str, command: str) -> None:
    """Write ``text`` to ``path`` (``--out``) and say so on stderr: a command that writes a file
    says what it wrote, and stdout stays empty for a pipe."""
    from pathlib import Path

    Path(path).write_text(text, encoding="utf-8")
    click.echo(f"ksctl {command}: wrote {path} ({len(text.encode('utf-8')):,} bytes)", err=True)


def duration_ms(text: str, option: str) -> int:
    """``300s`` / ``6h`` → milliseconds; a bad value is a usage error (exit 2)."""
    from ..policy.units import UnitError, parse_duration

    try:
        return parse_duration(text).ms
    except UnitError as e:
        raise click.BadParameter(e.message, param_hint=option) from None


def duration_s(text: str, option: str) -> float:
    """``300s`` / ``6h`` → seconds, longer than 0s; a bad value is a usage error (exit 2)."""
    ms = duration_ms(text, option)
    if ms <= 0:
        raise click.BadParameter("must be longer than 0s", param_hint=option)
    return ms / 1000


@contextmanager
def reading_recording(command: str, path: str, code: int = EXIT_FINDINGS) -> Iterator[None]:
    """A recording of snapshots read (``ksctl replay``, ``diff``, ``plan --against``): one that
    cannot be read, a line that is no snapshot or a file that cannot be opened, is said with its
    path (and the line), and exits ``code``."""
    from ..preview.replay import ReplayError

    try:
        yield
    except ReplayError as e:
        click.echo(f"ksctl {command}: {path}:{e.line}: {e.message}", err=True)
        raise SystemExit(code)
    except OSError as e:
        click.echo(f"ksctl {command}: {path}: {e.strerror}", err=True)
        raise SystemExit(code)


# What a command that reads a whole policy repository at once imports before it reads: the loader,
# the compiler (and the pydantic models under both), the runbook template checker, the renderer.
BATCH_MODULES = ("killswitch.policy.load", "killswitch.policy.yamlread", "killswitch.policy.yamlfast",
                 "killswitch.compile.compiler",
                 "killswitch.runbooks.check", "killswitch.render.diagnostics", "killswitch.zones")
# The first generation's threshold while one runs (Python's default is 700 new objects).
BATCH_GC_THRESHOLD = (10_000, 10, 10)


@contextmanager
def batch_collector(modules: tuple[str, ...] = BATCH_MODULES) -> Iterator[None]:
    """Python's cyclic garbage collector tuned for one batch that reads and compiles policies.

    Nearly everything such a command makes lives until it ends: modules, classes, pydantic's
    schemas, the documents and the graph. The collector, run every 700 new objects, walks them
    again and again and frees almost nothing: 7 % of `ksctl validate policies/` and a quarter of
    validating 1,000 files (bench/validate.py). So ``modules`` are imported with the collector
    paused, what they made is moved out of its reach (:func:`gc.freeze`), and it runs every
    10,000 new objects instead of 700 until the batch ends; then its threshold is as it was,
    nothing is frozen, and it is on again if it was on (a command run in process, as the tests
    do, leaves no trace; one found off is left to whoever turned it off). What was frozen
    before the batch began (a runner in the same process freezes what its start-up made) stays
    frozen, and what the batch froze with it: the collector cannot thaw one without the other.
    Garbage is still collected: memory stays bounded, about as it was.

    When the process exits, the interpreter collects three more times as it tears the modules
    down, walking everything the batch left alive: 4 % of `ksctl validate policies/`. The
    batch asks, once per process, that what is alive then be frozen first (:mod:`atexit` runs
    before that teardown): objects are still freed as the modules go, and only reference cycles
    among them are left to the operating system, as the memory of any process that ends is. In
    a test run, that happens when the test process exits."""
    import atexit
    import gc
    import importlib

    atexit.unregister(gc.freeze)  # registered once however many batches a process runs
    atexit.register(gc.freeze)
    enabled, threshold, frozen = gc.isenabled(), gc.get_threshold(), gc.get_freeze_count()
    gc.disable()
    try:
        for name in modules:
            importlib.import_module(name)
        gc.freeze()
        gc.set_threshold(*BATCH_GC_THRESHOLD)
        if enabled:
            gc.enable()
        yield
    finally:
        if not frozen:
            gc.unfreeze()
        gc.set_threshold(*threshold)
        # On again if it was on; one found off is left as it is now, never turned off again: in a
        # process that runs this beside something else that pauses the collector (a runner's
        # tick, which holds it off from its snapshots to its first send and then turns it on),
        # putting back "off" after the other had turned it on left it off for good.
        if enabled:
            gc.enable()


def compile_paths(paths: tuple[str, ...], templates=None, allow_empty: bool = False,
                  max_file_bytes: int = MAX_FILE_BYTES, accounts=None):
    """Read, load and compile policy sources. Returns (CompileResult, number of files read).
    Empty input is an error (KS007) unless ``allow_empty``; a file over ``max_file_bytes`` is
    KS010, unread. ``accounts``: those a command runs with (``plan --accounts``), standing for
    the declared ones when the sources hold no Accounts document (scopes are checked on them)."""
    from ..sources import compile_sources

    result, files = compile_sources(paths, templates, allow_empty, max_file_bytes, accounts)
    return result, len(files)


def accounts_of(path: Optional[str], max_file_bytes: int = MAX_FILE_BYTES):
    """The Accounts spec of an ``--accounts`` file and the file's loaded documents ((None, [])
    without it); a document that cannot be read is a usage error. Its ``accounts`` are those a
    command runs with (``run``, ``plan``, ``test``): :func:`compile_paths` checks scopes on them."""
    if not path:
        return None, []
    from ..process.bootstrap import AccountsError, read_accounts_file

    try:
        return read_accounts_file(path, max_file_bytes)
    except AccountsError as e:
        raise click.UsageError(str(e)) from None


def compile_or_exit(paths: tuple[str, ...], what: str, max_file_bytes: int = MAX_FILE_BYTES, accounts=None):
    """The compile result of ``paths``; on errors print them and exit 1 (a graph is needed)."""
    return compile_or_exit_counted(paths, what, max_file_bytes, accounts)[0]


def compile_or_exit_counted(paths: tuple[str, ...], what: str, max_file_bytes: int = MAX_FILE_BYTES,
                            accounts=None):
    """:func:`compile_or_exit`, with the number of files read."""
    from ..render.diagnostics import diagnostic_text

    result, files = compile_paths(paths, max_file_bytes=max_file_bytes, accounts=accounts)
    if result.graph is None:
        for x in result.errors:
            click.echo(diagnostic_text(x), err=True)
        click.echo(f"ksctl {what}: the policies have errors; run ksctl validate", err=True)
        raise SystemExit(EXIT_FINDINGS)
    return result, files


class ExistingPath(click.Path):
    """A path that must exist: a missing one is a usage error (exit 2) that names the closest
    entry of its directory (``polices`` → did you mean "policies"?)."""

    def __init__(self, **kwargs: Any):
        super().__init__(exists=True, **kwargs)

    def convert(self, value: Any, param: Optional[click.Parameter], ctx: Optional[click.Context]) -> Any:
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter as e:
            import difflib

            path = Path(os.fsdecode(value))
            siblings = [c.name for c in path.parent.iterdir()] if path.parent.is_dir() else []
            near = difflib.get_close_matches(path.name, siblings, n=1, cutoff=0.75)
            if near and not path.exists():
                self.fail(f"{e.message.rstrip('.')}; did you mean {str(path.with_name(near[0]))!r}?", param, ctx)
            raise
