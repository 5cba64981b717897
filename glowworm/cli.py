"""The ``glowworm`` console script: set-up, tokens, and a reconciler pass."""

from __future__ import annotations

import argparse
import json
import sys

from glowworm.db import make_engine, make_session_factory
from glowworm.logs import configure_logging
from glowworm.provision import provision
from glowworm.settings import Settings
from glowworm.storage import make_minio_client, make_s3_client
from glowworm.tokens import issue_token


def _token_create(settings: Settings, args: argparse.Namespace) -> int:
    engine = make_engine(settings.database_url)
    with make_session_factory(engine).begin() as session:
        token = issue_token(session, args.name, admin=args.admin)
    engine.dispose()
    print(token)
    return 0


def _setup(settings: Settings, args: argparse.Namespace) -> int:
    provision(settings, make_s3_client(settings), schema=not args.skip_migrations)
    print("setup complete: schema at head, buckets and notification in place", file=sys.stderr)
    return 0


def _reconcile(settings: Settings, args: argparse.Namespace) -> int:
    # The reconciler is processor code; the console script is only its front door.
    from glowworm.topology import Topology
    from processor.context import Context
    from processor.reconciler import run_once
    from processor.settings import ProcessorSettings

    processor_settings = ProcessorSettings()
    if args.stale_after is not None:
        processor_settings.stale_after_seconds = args.stale_after
    engine = make_engine(processor_settings.database_url)
    ctx = Context(
        processor_settings, make_session_factory(engine), make_minio_client(processor_settings)
    )
    report = run_once(
        ctx, Topology.from_settings(processor_settings), verify_objects=args.verify_objects
    )
    engine.dispose()
    if report is None:
        print("another reconciler pass is running; try again later", file=sys.stderr)
        return 1
    print(json.dumps(report.as_dict()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="glowworm", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    setup = commands.add_parser(
        "setup", help="migrate the schema, make buckets, wire notifications"
    )
    setup.add_argument("--skip-migrations", action="store_true")
    setup.set_defaults(run=_setup)

    token = commands.add_parser("token", help="API tokens")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    create = token_commands.add_parser("create", help="print a new bearer token for a user")
    create.add_argument("--name", required=True, help="user name (made if new)")
    create.add_argument("--admin", action="store_true", help="the user may use admin routes")
    create.set_defaults(run=_token_create)
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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings()
    configure_logging("WARNING")
    code: int = args.run(settings, args)
    return code


if __name__ == "__main__":
    sys.exit(main())
