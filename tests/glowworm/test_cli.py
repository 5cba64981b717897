"""The ``glowworm`` console script finds the commands the deployables register."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from glowworm.cli import COMMANDS_GROUP, build_parser, main

# The script pip put beside this interpreter: what a user runs.
SCRIPT = Path(sys.executable).parent / "glowworm"


def test_the_installed_script_lists_shared_and_deployable_commands() -> None:
    done = subprocess.run(
        [str(SCRIPT), "--help"], capture_output=True, text=True, check=True, timeout=60
    )
    assert "{setup,token,user,reconcile,rebuild-index,erase-user,migrate-layout}" in done.stdout
    # argparse wraps the help lines to the terminal's width.
    listing = " ".join(done.stdout.split())
    assert "reconcile queue again every object or job the pipeline lost track of" in listing
    assert "rebuild-index make the image rows from the manifests" in listing
    assert done.stderr == ""


def test_reconcile_takes_its_flags() -> None:
    args = build_parser().parse_args(["reconcile", "--stale-after", "5", "--verify-objects"])
    assert args.command == "reconcile"
    assert args.stale_after == 5.0
    assert args.verify_objects is True
    assert args.run.__module__ == "processor.commands"


def test_reconcile_flags_are_optional() -> None:
    args = build_parser().parse_args(["reconcile"])
    assert args.stale_after is None
    assert args.verify_objects is False


def test_a_broken_entry_point_costs_only_its_own_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # An installed distribution whose commands cannot be imported.
    dist_info = tmp_path / "broken_deployable-0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: broken-deployable\nVersion: 0\n"
    )
    (dist_info / "entry_points.txt").write_text(
        f"[{COMMANDS_GROUP}]\nbroken = no_such_deployable.commands:register\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))

    with pytest.raises(SystemExit) as exited:
        main(["--help"])

    assert exited.value.code == 0
    out, err = capsys.readouterr()
    assert "{setup,token,user,reconcile,rebuild-index,erase-user,migrate-layout}" in out
    assert "'broken' (no_such_deployable.commands:register)" in err
    assert "ModuleNotFoundError" in err
    assert "warning" in err


def test_user_quota_takes_sizes_or_default_and_refuses_negatives(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = build_parser().parse_args(["user", "quota", "alice", "--bytes", "1000"])
    assert (args.name, args.bytes, args.images) == ("alice", 1000, None)
    args = build_parser().parse_args(["user", "quota", "alice", "--images", "default"])
    assert args.images == "default"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["user", "quota", "alice", "--bytes", "-5"])
    assert "a quota is 0 to 9223372036854775807" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        build_parser().parse_args(["user", "quota", "alice", "--images", str(2**31)])
