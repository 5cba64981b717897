"""The ``glowworm`` console script: set-up, tokens (create, list, revoke), user quotas, and the
commands each deployable adds through a ``glowworm.commands`` entry point (``reconcile``
is the processor's)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import timedelta
from importlib.metadata import entry_points

from sqlalchemy import select

from glowworm.db import make_engine, make_session_factory
from glowworm.logs import configure_logging
from glowworm.models import User
from glowworm.provision import provision
from glowworm.settings import Settings
from glowworm.storage import make_s3_client
from glowworm.tokens import DEFAULT_LIFETIME, issue_token, list_tokens, revoke

# The entry-point group a deployable names its ``register(subparsers)`` function in
# (pyproject.toml): the shared package offers its commands without importing it.
COMMANDS_GROUP = "glowworm.commands"


def _token_create(settings: Settings, args: argparse.Namespace) -> int:
    engine = make_engine(settings.database_url)
    with make_session_factory(engine).begin() as session:
        token = issue_token(
            session, args.name, admin=args.admin, lifetime=timedelta(days=args.days)
        )
    engine.dispose()
    print(token)
    return 0


def _token_revoke(settings: Settings, args: argparse.Namespace) -> int:
    if not args.ids and args.user is None:
        print("glowworm token revoke: name token ids, or --user NAME", file=sys.stderr)
        return 2
    engine = make_engine(settings.database_url)
    with make_session_factory(engine).begin() as session:
        revoked = revoke(session, ids=args.ids, user=args.user)
    engine.dispose()
    # Every route checks tokens in the database; the upload route's cache and open
    # WebSockets catch up within 5 s.
    print(json.dumps({"revoked": revoked}))
    return 0


# What `glowworm user quota --bytes/--images` takes to go back to the deployment's quota.
DEFAULT_QUOTA = "default"


def _quota_value(most: int) -> Callable[[str], int | str]:
    """argparse's type of a quota the column holds: 0 to ``most``, or "default"."""

    def parse(text: str) -> int | str:
        if text == DEFAULT_QUOTA:
            return text
        value = int(text)
        if not 0 <= value <= most:
            raise argparse.ArgumentTypeError(f"a quota is 0 to {most}")
        return value

    return parse


def _user_quota(settings: Settings, args: argparse.Namespace) -> int:
    engine = make_engine(settings.database_url)
    with make_session_factory(engine).begin() as session:
        user = session.scalars(select(User).where(User.name == args.name)).one_or_none()
        if user is None:
            print(f"glowworm user quota: no user named {args.name!r}", file=sys.stderr)
            return 1
        if args.bytes is not None:
            user.quota_bytes = None if args.bytes == DEFAULT_QUOTA else args.bytes
        if args.images is not None:
            user.quota_images = None if args.images == DEFAULT_QUOTA else args.images
        shown = {
            "user": user.name,
            "quota_bytes": user.quota_bytes,
            "quota_images": user.quota_images,
        }
    engine.dispose()
    # null: the deployment's own (GLOWWORM_QUOTA_BYTES / GLOWWORM_QUOTA_IMAGES). The
    # upload route sees a change within 5 s (its token cache).
    print(json.dumps(shown))
    return 0


def _token_list(settings: Settings, args: argparse.Namespace) -> int:
    engine = make_engine(settings.database_url)
    with make_session_factory(engine)() as session:
        tokens = list_tokens(session, args.user)
    engine.dispose()
    for info in tokens:
        print(
            json.dumps(
                {
                    "id": info.id,
                    "user": info.user,
                    "admin": info.admin,
                    "created_at": info.created_at.isoformat(),
                    "expires_at": info.expires_at and info.expires_at.isoformat(),
                    "revoked_at": info.revoked_at and info.revoked_at.isoformat(),
                }
            )
        )
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
    create.add_argument(
        "--days",
        type=int,
        default=DEFAULT_LIFETIME.days,
        help=f"days the token works (default {DEFAULT_LIFETIME.days}; 0: it never expires)",
    )
    create.set_defaults(run=_token_create)
    revoke_command = token_commands.add_parser(
        "revoke", help="end tokens (and the page sessions signed in with them) within 5 s"
    )
    revoke_command.add_argument("ids", nargs="*", type=int, help="token ids (token list)")
    revoke_command.add_argument("--user", help="every token of this user")
    revoke_command.set_defaults(run=_token_revoke)
    list_command = token_commands.add_parser("list", help="tokens, one JSON line each")
    list_command.add_argument("--user", help="only this user's")
    list_command.set_defaults(run=_token_list)
    user = commands.add_parser("user", help="users")
    user_commands = user.add_subparsers(dest="user_command", required=True)
    quota = user_commands.add_parser(
        "quota", help="show or set a user's storage quota (null: the deployment's)"
    )
    quota.add_argument("name", help="user name")
    for unit, most in (("bytes", 2**63 - 1), ("images", 2**31 - 1)):  # BIGINT, INTEGER
        quota.add_argument(
            f"--{unit}",
            type=_quota_value(most),
            help=f"{unit} the user may hold, or '{DEFAULT_QUOTA}' for the deployment's",
        )
    quota.set_defaults(run=_user_quota)
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
