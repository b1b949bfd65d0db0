"""The access rules as pure functions: who sees which group, with which profile."""

from __future__ import annotations

import pytest

from lorafox.auth import rbac
from lorafox.domain import Grant, Principal, PrincipalKind, Profile
from lorafox.errors import Forbidden, NotFound

ROOT = "/r/"
A = "/r/a/"
A1 = "/r/a/a1/"
B = "/r/b/"
AB = "/r/ab/"  # a sibling whose id starts like "a": prefixes must stop at "/"


def who(*grants: tuple[str, Profile]) -> Principal:
    return Principal(
        PrincipalKind.API_USER,
        "x",
        "x",
        tuple(Grant(path.strip("/").rsplit("/", 1)[-1], path, p) for path, p in grants),
    )


def test_a_grant_covers_its_group_and_everything_below() -> None:
    viewer = who((A, Profile.VIEWER))
    assert rbac.profile_at(viewer, A) is Profile.VIEWER
    assert rbac.profile_at(viewer, A1) is Profile.VIEWER
    assert rbac.profile_at(viewer, ROOT) is None  # not above
    assert rbac.profile_at(viewer, B) is None  # not beside
    assert rbac.profile_at(viewer, AB) is None


def test_the_strongest_grant_above_wins() -> None:
    mixed = who((ROOT, Profile.VIEWER), (A, Profile.ADMIN), (A1, Profile.DEVICE_MANAGER))
    assert rbac.profile_at(mixed, ROOT) is Profile.VIEWER
    assert rbac.profile_at(mixed, B) is Profile.VIEWER
    assert rbac.profile_at(mixed, A) is Profile.ADMIN
    assert rbac.profile_at(mixed, A1) is Profile.ADMIN  # the ADMIN on A covers A1
    several = who((A, Profile.VIEWER), (A, Profile.DEVICE_MANAGER))
    assert rbac.profile_at(several, A1) is Profile.DEVICE_MANAGER


def test_visible_roots_are_the_topmost_grants() -> None:
    assert rbac.visible_roots(
        who((A1, Profile.ADMIN), (A, Profile.VIEWER), (B, Profile.VIEWER))
    ) == (
        A,
        B,
    )
    assert rbac.visible_roots(who((A, Profile.VIEWER), (AB, Profile.VIEWER))) == (A, AB)
    assert rbac.visible_roots(who()) == ()


@pytest.mark.parametrize(
    ("held", "needed", "outcome"),
    [
        (Profile.VIEWER, rbac.READ, None),
        (Profile.VIEWER, rbac.OPERATE, Forbidden),
        (Profile.VIEWER, rbac.ADMINISTER, Forbidden),
        (Profile.DEVICE_MANAGER, rbac.READ, None),
        (Profile.DEVICE_MANAGER, rbac.OPERATE, None),
        (Profile.DEVICE_MANAGER, rbac.ADMINISTER, Forbidden),
        (Profile.ADMIN, rbac.READ, None),
        (Profile.ADMIN, rbac.OPERATE, None),
        (Profile.ADMIN, rbac.ADMINISTER, None),
    ],
)
def test_require_in_a_visible_group(
    held: Profile, needed: Profile, outcome: type[Exception] | None
) -> None:
    principal = who((A, held))
    if outcome is None:
        assert rbac.require(principal, A1, needed, "group") is held
    else:
        with pytest.raises(outcome):
            rbac.require(principal, A1, needed, "group")


@pytest.mark.parametrize("held", list(Profile))
def test_outside_the_subtree_is_not_found_whatever_the_profile(held: Profile) -> None:
    principal = who((A, held))
    for path in (ROOT, B, AB):
        with pytest.raises(NotFound, match="group not found"):
            rbac.require(principal, path, rbac.READ, "group")


def test_require_all_for_objects_in_several_groups() -> None:
    a_admin = who((A, Profile.ADMIN))
    rbac.require_all(a_admin, [A, A1], rbac.ADMINISTER, "user")
    with pytest.raises(Forbidden):  # it sees the user through A, but not its role on B
        rbac.require_all(a_admin, [A, B], rbac.ADMINISTER, "user")
    with pytest.raises(NotFound):
        rbac.require_all(a_admin, [B], rbac.ADMINISTER, "user")
    with pytest.raises(Forbidden):
        rbac.require_all(who((A, Profile.DEVICE_MANAGER)), [A1], rbac.ADMINISTER, "user")


def test_every_profile_lists_what_it_allows() -> None:
    viewer, manager, admin = (set(rbac.PERMISSIONS[p]) for p in Profile)
    assert viewer < manager < admin
    assert not any(p.endswith(":write") for p in viewer)
    assert "downlinks:write" in manager and "users:write" not in manager
    assert rbac.strongest([]) is None
