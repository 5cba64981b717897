"""The processor's subcommands of the ``glowworm`` console script.

Registered through the ``glowworm.commands`` entry point (pyproject.toml), so the shared
package's CLI runs them without importing the processor.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from amqp.exceptions import AMQPError
from kombu import Connection
from kombu.exceptions import KombuError
from tqdm import tqdm

from glowworm.errors import TransientError
from glowworm.settings import Settings
from glowworm.status_events import StatusEvent
from glowworm.topology import Topology
from processor.context import Context
from processor.manifests import rebuild_index
from processor.migration import migrate, pending
from processor.reconciler import run_once
from processor.removal import erase
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


def _erase_user(settings: Settings, args: argparse.Namespace) -> int:
    processor_settings = ProcessorSettings()
    topology = Topology.from_settings(processor_settings)
    with (
        Context.open(processor_settings) as ctx,
        Connection(
            processor_settings.amqp_url,
            connect_timeout=5,
            transport_options={"max_retries": 1},
        ) as connection,
    ):
        unannounced: list[int] = []

        def announce(event: StatusEvent) -> None:
            """Best effort: the erasure needs no broker, only open pages hear of it."""
            if unannounced:  # the broker failed once: do not wait on it again
                unannounced.append(event.image_id)
                return
            try:
                connection.Producer().publish(
                    event.to_body(), exchange=topology.status, routing_key=""
                )
            except (KombuError, AMQPError, OSError) as e:
                print(f"image:deleted events not announced: {e}", file=sys.stderr)
                unannounced.append(event.image_id)

        try:
            receipt = erase(ctx, args.name, announce)
        except TransientError as e:
            print(
                f"{e}; the images that were marked stay deleted, the reconciler finishes"
                " them, and this command may be run again",
                file=sys.stderr,
            )
            return 1
    if receipt is None:
        print(f"no user named {args.name!r}", file=sys.stderr)
        return 2
    print(receipt.model_dump_json(indent=2))
    return 0 if receipt.status == "erased" else 1


def _migrate_layout(settings: Settings, args: argparse.Namespace) -> int:
    with Context.open(ProcessorSettings()) as ctx:
        todo = pending(ctx)
        with tqdm(total=len(todo), unit="image", desc="migrate-layout", file=sys.stderr) as bar:
            report = migrate(ctx, todo, bar.update)
    for image_id, reason in report.skipped.items():
        print(f"left image {image_id}: {reason}", file=sys.stderr)
    for image_id in report.unlisted:
        print(f"moved image {image_id}, but could not write its manifest", file=sys.stderr)
    print(json.dumps(asdict(report)))
    return 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``reconcile``, ``rebuild-index``, ``erase-user`` and ``migrate-layout`` to the
    ``glowworm`` subcommands; each one's ``run`` default takes the shared settings and
    the parsed arguments and returns the exit code."""
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
    erase_user = commands.add_parser(
        "erase-user",
        help="erase every image of one user now (originals, derivatives, manifests, rows)"
        " and print the receipt",
    )
    erase_user.add_argument("name", help="the user's name")
    erase_user.set_defaults(run=_erase_user)
    migrate_layout = commands.add_parser(
        "migrate-layout",
        help="move derivatives stored as {image id}/{size}.jpg under their original's"
        " prefix (safe to stop and run again)",
    )
    migrate_layout.set_defaults(run=_migrate_layout)
