"""The processor's subcommands of the ``glowworm`` console script.

Registered through the ``glowworm.commands`` entry point (pyproject.toml), so the shared
package's CLI runs them without importing the processor.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from glowworm.settings import Settings
from glowworm.topology import Topology
from processor.context import Context
from processor.manifests import rebuild_index
from processor.reconciler import run_once
from processor.settings import ProcessorSettings


def _reconcile(settings: Settings, args: argparse.Namespace) -> int:
    # The shared settings are not enough: the pass needs the processor's own (stale_after).
    processor_settings = ProcessorSettings()
    if args.stale_after is not None:
        processor_settings.stale_after_seconds = args.stale_after
    with Context.open(processor_settings) as ctx:
        report = run_once(
            ctx, Topology.from_settings(processor_settings), verify_objects=args.verify_objects
        )
    if report is None:
        print("another reconciler pass is running; try again later", file=sys.stderr)
        return 1
    print(json.dumps(report.as_dict()))
    return 0


def _rebuild_index(settings: Settings, args: argparse.Namespace) -> int:
    with Context.open(ProcessorSettings()) as ctx:
        report = rebuild_index(ctx)
    for manifest, problem in report.problems.items():
        print(f"skipped {manifest}: {problem}", file=sys.stderr)
    print(json.dumps(asdict(report)))
    return 1 if report.problems else 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``reconcile`` and ``rebuild-index`` to the ``glowworm`` subcommands; each
    one's ``run`` default takes the shared settings and the parsed arguments and returns
    the exit code."""
    reconcile = commands.add_parser(
        "reconcile", help="queue again every object or job the pipeline lost track of"
    )
    reconcile.add_argument(
        "--stale-after",
        type=float,
        metavar="SECONDS",
        help="a pending job untouched this long counts as lost"
        " (default: GLOWWORM_STALE_AFTER_SECONDS)",
    )
    reconcile.add_argument(
        "--verify-objects",
        action="store_true",
        help="also check that every derivative object exists in the store (slower)",
    )
    reconcile.set_defaults(run=_reconcile)
    rebuild = commands.add_parser(
        "rebuild-index",
        help="make the image rows from the manifests in the derivatives bucket"
        " (into an empty database; rows already there are kept)",
    )
    rebuild.set_defaults(run=_rebuild_index)
