"""The ``glowworm`` console script: set-up and tokens, and the commands each deployable
adds through a ``glowworm.commands`` entry point (``reconcile`` is the processor's)."""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import entry_points

from glowworm.db import make_engine, make_session_factory
from glowworm.logs import configure_logging
from glowworm.provision import provision
from glowworm.settings import Settings
from glowworm.storage import make_s3_client
from glowworm.tokens import issue_token

# The entry-point group a deployable names its ``register(subparsers)`` function in
# (pyproject.toml): the shared package offers its commands without importing it.
COMMANDS_GROUP = "glowworm.commands"


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


def _add_deployable_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    # A deployable that cannot load (a missing dependency, a bug) costs only its own
    # commands: `glowworm setup` and `glowworm token create` must still run.
    for entry in sorted(entry_points(group=COMMANDS_GROUP), key=lambda e: e.name):
        try:
            entry.load()(commands)
        except Exception as e:
            print(
                f"glowworm: warning: entry point {entry.name!r} ({entry.value}) in"
                f" {COMMANDS_GROUP} failed, its commands are missing: {type(e).__name__}: {e}",
                file=sys.stderr,
            )


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
    _add_deployable_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings()
    configure_logging("WARNING")
    code: int = args.run(settings, args)
    return code


if __name__ == "__main__":
    sys.exit(main())
