"""Mirror mode removes only what the sync itself added: people a marketer put on the list or tag stay."""

from __future__ import annotations

import pytest
from act_helpers import member, members


def _added_by_sync(wh, destination: str) -> dict[str, bool]:
    return dict(wh.query("SELECT member_key, added_by_sync FROM activation.sync_state WHERE sync_id = ? AND in_list",
                         [f"seg_test:{destination}"]))


@pytest.mark.parametrize("destination", ["klaviyo", "mailchimp"])
def test_mirror_never_removes_people_who_were_on_the_list_before_the_sync_added_them(wh, klaviyo, mailchimp,
                                                                                     destination):
    server = klaviyo if destination == "klaviyo" else mailchimp
    put_on = server.add_to_list if destination == "klaviyo" else server.tag
    on_list = server.members if destination == "klaviyo" else server.members_of
    env = wh.env(**{destination: server})
    # before the first sync a marketer made the list and put two people on it, one of them in the segment
    put_on("C360 test", "person0002@example.com")
    put_on("C360 test", "vip@example.com")
    wh.publish(members(5))
    first = wh.sync(destination, env)
    assert first.status == "success"
    assert on_list("C360 test") == {f"person000{i}@example.com" for i in range(1, 6)} | {"vip@example.com"}
    assert _added_by_sync(wh, destination) == {f"person000{i}@example.com": i != 2 for i in range(1, 6)}
    # between syncs the marketer adds person0007; the segment gains 6 and 7 and loses 2 and 3
    put_on("C360 test", "person0007@example.com")
    wh.publish([member(i) for i in (1, 4, 5, 6, 7)])
    second = wh.sync(destination, env)
    assert second.planned["remove"] == 1  # person0003 only: the sync added them
    assert on_list("C360 test") == {f"person000{i}@example.com" for i in (1, 2, 4, 5, 6, 7)} | {"vip@example.com"}
    # the segment drops person0007: they were the marketer's, so they stay
    wh.publish([member(i) for i in (1, 4, 5, 6)])
    third = wh.sync(destination, env)
    assert third.planned["remove"] == 0 and "person0007@example.com" in on_list("C360 test")
    # never an unsubscribe or a deletion on the way
    assert not any(op[0] in ("delete", "unsubscribe", "subscribe", "archive", "status_change") for op in server.ops)


@pytest.mark.parametrize("destination", ["klaviyo", "mailchimp"])
def test_a_list_the_sync_creates_is_not_read_back(wh, klaviyo, mailchimp, destination):
    server = klaviyo if destination == "klaviyo" else mailchimp
    wh.publish(members(4))
    assert wh.sync(destination, wh.env(**{destination: server})).status == "success"
    assert server.count("get_profile_ids_for_list") + server.count("getListsIdSegmentsIdMembers") == 0
    assert all(_added_by_sync(wh, destination).values())
