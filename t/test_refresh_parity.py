"""nginx and Apache refresh alike where the two old copies of the refresher
disagreed and the shared machine (core/include/tune_refresh.h) settled it:
how a snapshot that fails to decode is told, a snapshot too large for the
image space looked at once per generation, and the herd script loaded only
with herd control on, and again after SCRIPT FLUSH, never sent as EVAL.
Each test runs against both front-ends, with real Redis holding snapshots of
the test's own making; what each front-end sent is read from Redis's own
command statistics."""

import json
import re
import time

import pytest

from harness import slot, snapshot_text
from harness.nginx import Nginx

#: the smallest image space either front-end accepts (tune_zone_size 64k,
#: TuneSharedMemory 64K); the image capacity is less than this
ZONE = 64 * 1024
#: core/include/tune_contract.h: a text over this many times the image
#: capacity is refused by its length
TEXT_PER_IMAGE = 4

REFRESH = "100ms"
#: herd control on; the fair share is renewed every 3/4 of it, so claims go
#: out even between tune-ins
HERD_WINDOW = "500ms"

NGINX_LOCATIONS = ("location /tune/ { tune; }\n"
                   "location = /tune-status { tune_status; }\n"
                   "location / { return 404; }\n")

#: one ERR line of a snapshot refused (nginx "[error]", Apache "[tune:error]")
REJECTED = re.compile(r"\[(?:tune:)?error\] .*tune: snapshot generation (\d+) from redis at "
                      r"(\S+) rejected: (.*?); keeping generation (\d+)")


def good(free: int = 1000) -> str:
    return snapshot_text(slot("a", "http://127.0.0.1:9/demo", free))


def many_slots(count: int) -> str:
    """A valid snapshot of count slots of about 70 bytes of text each; decoded,
    each takes more than its text (56 bytes, its backend name and its URL)."""
    return snapshot_text(*(slot(f"b{i}", "http://127.0.0.1:9/demo", 10) for i in range(count)))


@pytest.fixture(params=["nginx", "apache"])
def front(request, run_dir, processes, redis_server, make_tune_apache):
    """front(herd_window="0", zone=None) -> nginx or Apache (the test's parameter) reading
    redis_server every REFRESH, tune-ins at /tune/, the status at /tune-status, the image
    space zone bytes (None: the default)."""
    def make(herd_window="0", zone=None):
        if request.param == "nginx":
            n = Nginx(run_dir, redis_server.address, refresh=REFRESH, herd_window=herd_window,
                      http_conf=f"tune_zone_size {zone // 1024}k;\n" if zone else "",
                      locations=NGINX_LOCATIONS)
            processes.append(n)
            return n.start()
        return make_tune_apache(
            redis_server.address, refresh=REFRESH, herd_window=herd_window,
            server_conf=f"TuneSharedMemory {zone // 1024}K\n" if zone else "")
    make.kind = request.param
    return make


def held(front) -> int | None:
    """The generation the front-end's status says it holds."""
    r = front.get("/tune-status")
    assert r.status == 200, r
    return (json.loads(r.body).get("snapshot") or {}).get("generation")


def wait_for(predicate, what: str, timeout: float = 5.0, detail=None):
    """Polls predicate() until it returns something true, and returns that; AssertionError
    naming what (and detail(), when given) after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not within {timeout}s"
                                 + (f"; {detail()}" if detail else ""))
        time.sleep(0.02)


def wait_for_generation(front, generation: int) -> None:
    wait_for(lambda: held(front) == generation, f"generation {generation} installed")


def commandstats(redis) -> dict[str, dict[str, int]]:
    """INFO commandstats as {"get": {"calls": 5, "failed_calls": 0, ...}, "script|load": ...}."""
    out = {}
    for line in redis.command("INFO", "commandstats").decode().splitlines():
        name, sep, fields = line.partition(":")
        if sep and name.startswith("cmdstat_"):
            out[name[len("cmdstat_"):]] = {k: int(float(v)) for k, v in
                                          (f.split("=") for f in fields.split(","))}
    return out


def calls(redis, command: str) -> int:
    """How often Redis ran command ("script|load": that subcommand; Redis before 7 counts
    every SCRIPT as "script")."""
    stats = commandstats(redis)
    if command == "script|load" and "script|load" not in stats:
        command = "script"
    return stats.get(command, {}).get("calls", 0)


def counts(redis) -> dict[str, int]:
    """{command: calls}, for messages."""
    return {name: f["calls"] for name, f in commandstats(redis).items()}


def noscript_errors(redis) -> int:
    for line in redis.command("INFO", "errorstats").decode().splitlines():
        if line.startswith("errorstat_NOSCRIPT:count="):
            return int(line.split("=")[1])
    return 0


def front_end_connections(redis) -> set[int]:
    """The ids of Redis's client connections other than the one asking."""
    with redis.client() as c:
        me = c.command("CLIENT", "ID")
        listing = c.command("CLIENT", "LIST").decode()
    ids = {int(m) for m in re.findall(r"^id=(\d+) ", listing, re.M)}
    return ids - {me}


def rejections(front) -> list[tuple[int, str, str, int]]:
    """(generation, address, reason, generation kept) of every snapshot refused."""
    return [(int(g), a, why, int(k)) for g, a, why, k in REJECTED.findall(front.error_log_text())]


def tune_lines(front, level: str) -> list[str]:
    """The module's lines at level ("error", "warn") in the error log."""
    rx = re.compile(rf"\[(?:tune:)?{level}\].* tune: ")
    return [line for line in front.error_log_text().splitlines() if rx.search(line)]


def refreshes(redis, count: int) -> None:
    """Waits until the front-end read the generation count more times (GET calls)."""
    base = calls(redis, "get")
    wait_for(lambda: calls(redis, "get") >= base + count, f"{count} more refreshes",
             detail=lambda: counts(redis))


# ---- a snapshot that fails to decode -----------------------------------------------------

def test_a_decode_error_names_its_line_only_when_it_has_one(front, redis_server):
    """An image too large for the space (a decode error of no line) is refused with one ERR
    line without "line 0"; a bad slot line is refused with "line 4:"; each keeps the
    generation held."""
    redis_server.put_snapshot(good(), 1)
    f = front(zone=ZONE)
    wait_for_generation(f, 1)
    directive = "tune_zone_size" if front.kind == "nginx" else "TuneSharedMemory"

    # about as much text as the whole space: far under the TEXT_PER_IMAGE rule, so it is
    # fetched and decoded, and its image, larger than its text, cannot fit
    text = many_slots(1000)
    assert ZONE < len(text) < 2 * ZONE, len(text)
    redis_server.put_snapshot(text, 2)
    wait_for(lambda: rejections(f), "generation 2 rejected")
    assert rejections(f) == [(2, redis_server.address,
                              f"buffer too small for the image (increase {directive})", 1)], \
        f.error_log_text()
    assert "line 0" not in f.error_log_text()

    redis_server.put_snapshot(good(), 3)
    wait_for_generation(f, 3)
    bad = good().replace("\ta\t", "\t..\t", 1)
    assert bad.splitlines()[3].startswith("slot\tdemo\t..\t"), bad
    redis_server.put_snapshot(bad, 4)
    wait_for(lambda: len(rejections(f)) == 2, "generation 4 rejected")
    assert rejections(f)[1] == (4, redis_server.address, "line 4: slot: bad backend name", 3), \
        f.error_log_text()
    assert held(f) == 3
    assert len(tune_lines(f, "error")) == 2, f.error_log_text()
    assert tune_lines(f, "warn") == [], f.error_log_text()


# ---- a snapshot too large --------------------------------------------------------------

def test_a_snapshot_too_large_is_measured_once_per_generation(front, redis_server):
    """A text over four times the image capacity is refused by its length with one ERR line
    naming the directive, never fetched, and not measured again (one STRLEN per generation)
    while the front-end keeps reading the generation; one that fits is installed after it,
    and a later oversized generation again costs one STRLEN."""
    huge = many_slots(4000)
    assert len(huge) > TEXT_PER_IMAGE * ZONE, len(huge)
    redis_server.put_snapshot(huge, 1)               # the first this front-end ever sees
    f = front(zone=ZONE)
    directive = "tune_zone_size" if front.kind == "nginx" else "TuneSharedMemory"

    wait_for(lambda: rejections(f), "generation 1 rejected")
    refreshes(redis_server, 5)
    assert calls(redis_server, "strlen") == 1, counts(redis_server)
    assert calls(redis_server, "mget") == 0, counts(redis_server)
    (generation, address, why, kept), = rejections(f)
    assert (generation, address, kept) == (1, redis_server.address, 0), rejections(f)
    m = re.fullmatch(rf"snapshot of {len(huge)} bytes is larger than (\d+) bytes "
                     rf"\(increase {directive}\)", why)
    assert m and int(m[1]) < TEXT_PER_IMAGE * ZONE, why
    assert held(f) is None

    redis_server.put_snapshot(good(), 2)
    wait_for_generation(f, 2)
    assert (calls(redis_server, "strlen"), calls(redis_server, "mget")) == (2, 1)
    assert f.get("/tune/demo").status == 302

    redis_server.put_snapshot(huge, 3)
    wait_for(lambda: len(rejections(f)) == 2, "generation 3 rejected")
    refreshes(redis_server, 5)
    assert rejections(f)[1][::3] == (3, 2), rejections(f)
    assert (calls(redis_server, "strlen"), calls(redis_server, "mget")) == (3, 1), \
        counts(redis_server)
    assert held(f) == 2

    redis_server.put_snapshot(good(), 4)
    wait_for_generation(f, 4)
    assert len(tune_lines(f, "error")) == 2, f.error_log_text()
    assert tune_lines(f, "warn") == [], f.error_log_text()


# ---- the herd script -------------------------------------------------------------------

def test_no_script_without_herd_control(front, redis_server):
    """Herd control off: the snapshot is read and tune-ins answered, and no SCRIPT, EVAL or
    EVALSHA ever reaches Redis."""
    redis_server.put_snapshot(good(), 1)
    f = front(herd_window="0")
    wait_for_generation(f, 1)
    for _ in range(5):
        assert f.get("/tune/demo").status == 302
    refreshes(redis_server, 3)
    stats = counts(redis_server)
    assert not {"script", "script|load", "eval", "evalsha"} & set(stats), stats
    assert tune_lines(f, "error") == [] and tune_lines(f, "warn") == [], f.error_log_text()


def test_script_flush_is_answered_by_loading_the_script_again(front, redis_server):
    """Herd control on: the script is loaded once on the front-end's connection and claims go
    by EVALSHA; after SCRIPT FLUSH, while tune-ins spend credits, the one NOSCRIPT is answered
    by SCRIPT LOAD on the same connection, claims go on by EVALSHA, and EVAL is never sent."""
    # tune-ins count against the slot until a later poll, which never comes: room for all
    redis_server.put_snapshot(good(free=100000), 1)
    f = front(herd_window=HERD_WINDOW)
    wait_for_generation(f, 1)

    def tune_in_until(predicate, what):
        def step():
            assert f.get("/tune/demo").status == 302
            return predicate()
        return wait_for(step, what, detail=lambda: counts(redis_server))

    tune_in_until(lambda: calls(redis_server, "evalsha") >= 2, "claims by EVALSHA")
    connection = front_end_connections(redis_server)
    assert len(connection) == 1, connection
    assert calls(redis_server, "script|load") == 1, counts(redis_server)

    redis_server.command("SCRIPT", "FLUSH")
    tune_in_until(lambda: calls(redis_server, "script|load") >= 2,
                  "SCRIPT LOAD after NOSCRIPT")
    reloaded = calls(redis_server, "evalsha")
    tune_in_until(lambda: calls(redis_server, "evalsha") >= reloaded + 3,
                  "claims by EVALSHA after the reload")

    stats = commandstats(redis_server)
    assert calls(redis_server, "script|load") == 2, stats
    assert stats["evalsha"]["failed_calls"] == 1 and noscript_errors(redis_server) == 1, stats
    assert "eval" not in stats, stats
    assert front_end_connections(redis_server) == connection
    assert tune_lines(f, "error") == [] and tune_lines(f, "warn") == [], f.error_log_text()
