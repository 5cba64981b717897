"""Whose quota applies: the user's own, else the deployment's; None is unlimited."""

from __future__ import annotations

from glowworm.quotas import Quota
from upload_service.settings import UploadSettings


def test_a_users_own_quota_wins_and_zero_is_a_quota() -> None:
    settings = UploadSettings(quota_bytes=1000, quota_images=10)
    assert Quota.of(settings, None, None) == Quota(bytes=1000, images=10)
    assert Quota.of(settings, 5000, 0) == Quota(bytes=5000, images=0)
    assert not Quota.of(settings, None, None).unlimited


def test_no_quota_anywhere_is_unlimited() -> None:
    assert Quota.of(UploadSettings(), None, None).unlimited
    assert not Quota.of(UploadSettings(), None, 3).unlimited
