"""The ``cxkit`` command line.

Subcommands:

- ``cxkit validate CONFIG [--quarantine-dir DIR] [--as-of DATE]``: read and
  validate a source config's exports, print the data-quality table, write the
  quarantined rows to ``DIR/<table>.csv`` (default ``quarantine/`` beside the
  config). Exit 0 when the data loaded (even with quarantined rows), 2 on a
  structural error.
- ``cxkit sample --out DIR [--customers N] [--months M] [--seed S] [--variant V ...]``:
  write the generated sample data, its source config and its truth; ``--variant``
  (repeatable) picks an export shape unlike the default sample.
- ``cxkit run [RUNCONFIG] [--jobs N]``: run a batch of notebook reports
  (default: ``./reports.yaml`` when present, else the packaged default batch
  on the bundled sample; reports go under the current folder).
- ``cxkit init DIR [--preset NAME ...]``: start a project folder (source and
  run configs, copies of the notebooks, next steps).

Exit status: 0 success; 1 a batch ran but some of its runs failed (the
summary names each); 2 the input was refused (config, parameter, source
data) and nothing was written; 3 the machine refused (disk full, read-only
or forbidden folder: :class:`~cxkit.exceptions.ResourceError`); 130 / 143 a
batch stopped by Ctrl-C / SIGTERM (its unfinished folder removed). Every
cxkit error is printed as one line, ``error: <message>``, on stderr; with
``--debug`` the traceback is printed above it.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
import warnings
from pathlib import Path

import cxkit
from cxkit.exceptions import ConfigError, CxkitError, QuarantineWarning, ResourceError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cxkit", description="From helpdesk exports to retention and revenue effects.")
    parser.add_argument("--version", action="version", version=f"cxkit {cxkit.__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="print the traceback of an error, not only its message")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    val = sub.add_parser("validate", help="check a source config's exports and report quality")
    val.add_argument("config", help='source config (YAML), or "sample" for the bundled sample')
    val.add_argument("--quarantine-dir", type=Path, default=None,
                     help="folder for quarantined rows (default: quarantine/ beside the config)")
    val.add_argument("--as-of", default=None,
                     help="dates after this one are set aside (default: the config's as_of, "
                          "else today)")

    smp = sub.add_parser("sample", help="write the generated sample data set")
    smp.add_argument("--out", type=Path, required=True, help="folder to write into")
    smp.add_argument("--customers", type=int, default=3000,
                     help="number of customers (default 3000)")
    smp.add_argument("--months", type=int, default=24, help="months of history (default 24)")
    smp.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    smp.add_argument("--variant", action="append", default=None, metavar="NAME",
                     help="export shape (repeatable): minimal, bare, log_resolution, "
                          "reason_effect, ecommerce (default: the bundled sample's shape)")

    run = sub.add_parser("run", help="run a batch of notebook reports")
    run.add_argument("runconfig", nargs="?", default=None,
                     help="run config (YAML); default: the bundled default batch")
    run.add_argument("--jobs", type=int, default=None, help="notebooks run in parallel")

    ini = sub.add_parser("init", help="start a project folder: configs, notebooks, next steps")
    ini.add_argument("dir", type=Path, help="new (or empty) folder to create")
    ini.add_argument("--preset", action="append", default=[], metavar="NAME",
                     help="export preset(s) the source config starts from, e.g. zendesk "
                          "(repeat, or separate with commas)")
    return parser


def _validate(args: argparse.Namespace) -> int:
    from cxkit.config import load_config
    from cxkit.io import read_support_data, sample_config_path
    from cxkit.validate import describe_quality

    config = sample_config_path() if args.config == "sample" else Path(args.config)
    if not config.is_file():
        raise ConfigError(f"source config {args.config!r} not found; give the path of a YAML "
                          'file or "sample".')
    cfg = load_config(config)
    if cfg.engine is not None:  # read, checked and counted inside the engine
        return _validate_engine(cfg, args, config)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QuarantineWarning)  # the table below says it all
        data = read_support_data(cfg, as_of=args.as_of)
    table = describe_quality(data)
    print(table.to_string(index=False))
    # the bundled sample's rows go to ./quarantine, never into the installed package
    out_dir = args.quarantine_dir or (Path("quarantine") if args.config == "sample"
                                      else config.parent / "quarantine")
    total = int(table["rows_quarantined"].sum())
    sizes = ", ".join(f"{name} {len(rows):,}" for name, rows in data.tables().items())
    print(f"\nRows kept: {sizes}. Rows quarantined: {total:,}.")
    for name, rows in data.quarantine.items():
        target = out_dir / f"{name}.csv"
        fix = "choose a writable folder with --quarantine-dir"
        try:
            if len(rows):
                out_dir.mkdir(parents=True, exist_ok=True)
                rows.to_csv(target, index=False)
                print(f"Quarantined {name} rows written to {target.as_posix()}")
            elif target.exists():
                target.unlink()  # a file from an earlier run would mislead
        except OSError as exc:
            raise ResourceError.from_os_error(
                exc, path=target.as_posix(), doing="write the quarantined rows",
                fix=fix) from exc
    return 0


def _validate_engine(cfg, args: argparse.Namespace, config: Path) -> int:
    """``cxkit validate`` of a config with an ``engine:`` block: counts come from the engine."""
    from cxkit.engine import open_source
    from cxkit.validate import describe_quality

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QuarantineWarning)  # the table below says it all
        data = open_source(cfg, as_of=args.as_of)
    with data:
        table = describe_quality(data.quality)
        print(table.to_string(index=False))
        total = int(table["rows_quarantined"].sum())
        sizes = ", ".join(f"{name} {data.table(name).count().to_pyarrow().as_py():,}"
                          for name in data.names)
        print(f"\nRows kept: {sizes}. Rows quarantined: {total:,}.")
        for name, where in data.write_quarantine(args.quarantine_dir).items():
            print(f"Quarantined {name} rows written to {where}")
    return 0


def _sample(args: argparse.Namespace) -> int:
    from cxkit.synth import write_sample

    try:
        out = write_sample(args.out, n_customers=args.customers, months=args.months,
                           seed=args.seed, variant=args.variant or "default")
    except ValueError as exc:  # an unknown variant or too small a sample
        raise ConfigError(str(exc)) from None
    print(f"Sample written to {Path(out).as_posix()}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from cxkit.batch import run_batch
    from cxkit.runconfig import resolve_run_config

    result = run_batch(resolve_run_config(args.runconfig), jobs=args.jobs)
    print(result.summary(), file=sys.stderr if result.failed else sys.stdout)
    return 1 if result.failed else 0


def _init(args: argparse.Namespace) -> int:
    from cxkit.project import init_project

    presets = [name.strip() for item in args.preset for name in item.split(",") if name.strip()]
    init_project(args.dir, presets=presets)
    where = args.dir.as_posix()
    print(f"Project written to {where}/: cxkit.yaml (source config to fill in), reports.yaml "
          f"(run config, on the bundled sample for now), notebooks/, exports/, README.md.\n"
          f"Next: cd {where} && cxkit run   (then follow README.md to use your exports)")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; ``sys.argv[1:]`` by default.

    Returns
    -------
    int
        The exit status (see the module docstring).
    """
    args = _parser().parse_args(argv)
    commands = {"validate": _validate, "sample": _sample, "run": _run, "init": _init}
    try:
        return commands[args.command](args)
    except CxkitError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return 3 if isinstance(exc, ResourceError) else 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        return 0


if __name__ == "__main__":
    sys.exit(main())
