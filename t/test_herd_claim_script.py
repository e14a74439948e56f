"""redis/herd_claim.lua on its own, in a real Redis, with claims of the
test's own making (the arguments of redis/SCHEMA.md, "Herd control"): what
it grants to front-ends claiming one slot, fair shares and top-ups."""

import pytest

from harness.paths import repo_dir

KEY = "{tuneslot:v1}:herd:demo:a"
W = 2000
TTL = 60000
NOW = 1763712000000          # a bucket starts here
POLLED = NOW - 500


def claim(redis, caller, want, free=100, stock=0, now=NOW, back=0, back_bucket=0, debt=0):
    """One claim of one slot; (granted, bucket)."""
    script = (repo_dir() / "redis" / "herd_claim.lua").read_text()
    granted, bucket = redis.command("EVAL", script, 1, KEY, now, W, TTL, caller,
                                    POLLED, free, want, back, back_bucket, debt, stock)
    return [granted, bucket]


def test_a_top_up_is_held_to_the_callers_share_of_what_is_left(redis_server):
    """After a dry spell every busy front-end asks for top-ups at once; the first to
    claim used to be granted all that was left (99 of 99), the next one nothing,
    though both had as many tune-ins to answer (fleet.py, F 20, B 200: one front-end
    held 10,800 of the fleet's 10,944 credits).  Now each top-up is at most what is
    left over the front-ends that claimed within the window."""
    assert claim(redis_server, "fe-a", want=1)[0] == 1          # alone: what it wants
    assert claim(redis_server, "fe-b", want=1000)[0] == 49      # 99 left, 2 claimers
    assert claim(redis_server, "fe-a", want=1000)[0] == 25      # 50 left, 2 claimers
    assert claim(redis_server, "fe-c", want=3)[0] == 3          # 25 left, 3: wants less
    assert claim(redis_server, "fe-c", want=1000)[0] == 7       # 22 left, 3 claimers
    fields = redis_server.command("HGETALL", KEY)
    buckets = {k.decode(): int(v) for k, v in zip(fields[::2], fields[1::2])
               if k.startswith(b"b")}
    assert buckets == {f"b{NOW // 100}": 1 + 49 + 25 + 3 + 7}


def test_a_top_up_gets_at_least_one_while_there_is_room(redis_server):
    """Fewer places left than claimers: a top-up still gets one while one is left."""
    for caller in ("fe-a", "fe-b", "fe-c"):
        assert claim(redis_server, caller, want=1, free=3)[0] == 1
    assert claim(redis_server, "fe-d", want=50, free=3)[0] == 0


@pytest.mark.parametrize("stock, granted", [(0, 25), (10, 15), (30, 1)])
def test_a_fair_share_is_what_is_left_over_the_claimers_less_the_stock(redis_server, stock,
                                                                       granted):
    """want 0: min(4096, left / claimers) less the caller's stock, at least 1."""
    assert claim(redis_server, "fe-a", want=50)[0] == 50        # alone: a top-up of 50
    assert claim(redis_server, "fe-b", want=0, stock=stock)[0] == granted   # 50 left, 2


def test_a_fair_share_is_at_most_4096(redis_server):
    assert claim(redis_server, "fe-a", want=0, free=100000)[0] == 4096
    assert claim(redis_server, "fe-b", want=100000, free=100000)[0] == (100000 - 4096) // 2


def test_a_fair_share_claim_with_a_whole_share_in_stock_only_gives_back(redis_server):
    """A front-end letting the share of an idle slot lapse gives it back with a
    fair-share claim holding 4096 in stock: the script takes the credits back out of
    their bucket, grants none, and no longer counts it among the slot's claimers."""
    granted, bucket = claim(redis_server, "fe-a", want=0)
    assert granted == 100
    assert claim(redis_server, "fe-a", want=0, stock=4096, back=60, back_bucket=bucket,
                 now=NOW + 500) == [0, (NOW + 500) // 100]
    assert redis_server.command("HGET", KEY, f"b{bucket}") == b"40"
    assert claim(redis_server, "fe-b", want=1000, now=NOW + 600)[0] == 60   # 60 left, 1
