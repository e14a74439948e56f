"""tuneslotd against hostile status pages: every kind of bad body fails the
backend's poll with a clear reason, and none crashes, hangs, grows the
daemon's memory, or makes it read a file or fetch a URL."""

import time

import pytest

from harness import sanitizer
from test_scheduler import config, counts, read_snapshot

DEEP = 10000

# a valid page of each format, for the backend that must stay up beside the hostile ones
GOOD = {
    "load-xsl": '<load><mount name="/demo" listeners="1" max="10">9</mount></load>',
    "icecast-json": '{"icestats":{"source":{"listeners":1,"listenurl":"http://h:8000/demo"}}}',
    "shoutcast2": '{"currentlisteners":1,"maxlisteners":10,"streams":[{"streampath":"/demo",'
                  '"currentlisteners":1,"maxlisteners":10,"streamstatus":1}]}',
}


def billion_laughs(root):
    ents = ['<!ENTITY l0 "ha">'] + [f'<!ENTITY l{i} "{("&l%d;" % (i - 1)) * 10}">' for i in range(1, 10)]
    return f'<?xml version="1.0"?><!DOCTYPE {root} [{"".join(ents)}]><{root}>&l9;</{root}>'


def hostile_pages():
    """(name, format, body, reason prefix): one backend each."""
    deep_array = "[" * DEEP + "]" * DEEP
    deep_object = '{"a":' * DEEP + "1" + "}" * DEEP
    deep_xml = "<load>" + "<m>" * DEEP + "</m>" * DEEP + "</load>"
    big_json = '{"icestats":{"source":[' + ",".join(
        '{"listeners":1,"listenurl":"http://h/m%d","pad":"%s"}' % (i, "x" * 40) for i in range(9000)) + "]}}"
    return [
        ("json-deep-array", "icecast-json", deep_array, "parse: nested deeper than 32 levels"),
        ("json-deep-object", "shoutcast2", deep_object, "parse: nested deeper than 32 levels"),
        ("json-unclosed", "icecast-json", "[" * 500000, "parse: nested deeper than 32 levels"),
        ("json-truncated", "icecast-json", GOOD["icecast-json"][:-7], "parse: parse error"),
        ("json-not-utf8", "icecast-json", b'{"icestats":{"source":{"listeners":1,"listenurl":"http://h/\xff\xfe"}}}',
         "parse: parse error"),
        ("json-nul", "shoutcast2", b'{"currentlisteners":\x00}', "parse: parse error"),
        ("json-negative", "icecast-json", '{"icestats":{"source":{"listeners":-5,"listenurl":"http://h/demo"}}}',
         'parse: mount "/demo": "listeners": "-5" is not a whole number >= 0'),
        ("json-absurd", "shoutcast2", GOOD["shoutcast2"].replace('"maxlisteners":10,"streams"',
                                                                 '"maxlisteners":1e308,"streams"'),
         'parse: server: "maxlisteners": "1e308" is not a whole number >= 0'),
        ("json-many-objects", "icecast-json", "[" + ",".join(["{}"] * 20000) + "]",
         "parse: more than 10000 objects"),
        ("json-big", "icecast-json", big_json, ""),     # under 1 MiB and valid: up
        ("json-too-big", "icecast-json", '{"icestats":{"pad":"' + "x" * (1024 * 1024) + '"}}',
         "body larger than 1048576 bytes"),
        ("xml-deep", "load-xsl", deep_xml, "parse: line 1: "),
        ("xml-laughs", "load-xsl", billion_laughs("load"), "parse: <!DOCTYPE> is not allowed"),
        ("xml-truncated", "load-xsl", GOOD["load-xsl"][:-9], "parse: line 1: "),
        ("xml-not-utf8", "load-xsl", b'<?xml version="1.0" encoding="UTF-8"?><load><mount name="/\xff">1</mount>'
                                     b'</load>', "parse: line 1: "),
        ("xml-absurd", "load-xsl", '<load><mount name="/demo">18446744073709551617</mount></load>',
         'parse: mount "/demo": free slots: "18446744073709551617" is out of range'),
        ("sc1-negative", "shoutcast1", "<SHOUTCASTSERVER><CURRENTLISTENERS>-1</CURRENTLISTENERS><MAXLISTENERS>5"
                                       "</MAXLISTENERS><STREAMSTATUS>1</STREAMSTATUS></SHOUTCASTSERVER>",
         "parse: <CURRENTLISTENERS>: \"-1\" is not a whole number >= 0"),
        ("sc1-laughs", "shoutcast1", billion_laughs("SHOUTCASTSERVER"), "parse: <!DOCTYPE> is not allowed"),
    ]


def hostile_backends(status_server):
    backends = []
    for name, fmt, body, _ in hostile_pages():
        b = {"name": name, "format": fmt, "status": status_server.route(f"/{name}", body=body),
             "public": f"http://{name}.example.net"}
        if fmt == "icecast-json":
            b["max_listeners"] = 100
        if fmt == "shoutcast1":
            b["password"] = "pw"
        backends.append(b)
    return backends


def test_hostile_pages_fail_each_poll_with_a_clear_reason(redis_server, status_server, make_tuneslotd):
    """Deep, truncated, non-UTF-8, huge, entity-bomb and absurd-number pages each make only their backend down, with a reason."""
    good = {"name": "good", "format": "shoutcast2", "status": status_server.route("/good", body=GOOD["shoutcast2"]),
            "public": "http://good.example.net"}
    # a timeout far beyond what any page needs: every reason below must be
    # the parser's, never "timeout", even on a loaded machine
    t = make_tuneslotd(config(redis_server, hostile_backends(status_server) + [good], {"demo": "/demo"},
                              interval="10s", timeout="10s"))
    started = time.monotonic()
    assert t.run_once(timeout=30) == 0
    assert time.monotonic() - started < 10
    _, snap = read_snapshot(redis_server)
    for name, _, _, reason in hostile_pages():
        b = snap.backends[name]
        if not reason:
            assert b.health == "up", (name, b.reason)
            continue
        assert b.health == "down", name
        assert b.reason.startswith(reason), (name, b.reason)
        assert counts(snap.slot("demo", name)) == ("down", 0, 0, 0)
        assert f"backend {name}: down: {b.reason}" in t.log_text()
    assert counts(snap.slot("demo", "json-big")) == ("nosource", 0, 0, 0)
    assert counts(snap.slot("demo", "good")) == ("up", 1, 10, 9)
    assert "[error]" not in t.log_text()


def test_body_trickled_byte_by_byte_times_out(redis_server, status_server, make_tuneslotd):
    """A page sent one byte at a time is down with 'timeout' at the poll timeout, and the other backends are on time."""
    slow = status_server.trickle("/slow", GOOD["load-xsl"], delay=0.05)
    fast = status_server.route("/fast", body=GOOD["load-xsl"])
    t = make_tuneslotd(config(redis_server, [
        {"name": "slow", "status": slow, "public": "http://slow.example.net"},
        {"name": "fast", "status": fast, "public": "http://fast.example.net"},
    ], {"demo": "/demo"}, interval="1s", timeout="600ms"))
    started = time.monotonic()
    assert t.run_once(timeout=10) == 0
    assert time.monotonic() - started < 3
    _, snap = read_snapshot(redis_server)
    assert snap.backends["slow"].reason == "timeout"
    assert counts(snap.slot("demo", "fast")) == ("up", 1, 10, 9)
    assert snap.backends["slow"].polled_ms - snap.backends["fast"].polled_ms >= 450


def test_external_entities_read_no_file_and_fetch_no_url(redis_server, status_server, run_dir, make_tuneslotd):
    """XXE to a file and to an http URL, an external DTD and XInclude: no file content shows, no request is made."""
    secret_text = "tuneslot-secret-7f3a9c"
    secret = run_dir / "secret.txt"
    secret.write_text(secret_text)
    dtd_url = status_server.route("/evil.dtd", body=f'<!ENTITY leak SYSTEM "file://{secret}">',
                                  content_type="application/xml-dtd")
    xxe_url = status_server.route("/xxe", body="77")
    pages = {
        "xxe-file": ("load-xsl", f'<?xml version="1.0"?><!DOCTYPE load [<!ENTITY x SYSTEM "file://{secret}">]>'
                                 f'<load><mount name="/demo">&x;</mount></load>'),
        "xxe-http": ("icecast-admin", f'<?xml version="1.0"?><!DOCTYPE icestats [<!ENTITY x SYSTEM "{xxe_url}">]>'
                                      f'<icestats><source mount="/demo"><listeners>&x;</listeners>'
                                      f'<max_listeners>&x;</max_listeners></source></icestats>'),
        "xxe-param": ("shoutcast1", f'<?xml version="1.0"?><!DOCTYPE SHOUTCASTSERVER [<!ENTITY % p SYSTEM '
                                    f'"{dtd_url}"> %p;]><SHOUTCASTSERVER><SERVERTITLE>&leak;</SERVERTITLE>'
                                    f'</SHOUTCASTSERVER>'),
        "dtd-http": ("load-xsl", f'<?xml version="1.0"?><!DOCTYPE load SYSTEM "{dtd_url}">'
                                 f'<load><mount name="/demo">&leak;</mount></load>'),
        "xinclude": ("load-xsl", f'<load xmlns:xi="http://www.w3.org/2001/XInclude"><mount name="/demo">'
                                 f'<xi:include href="file://{secret}" parse="text"/></mount></load>'),
    }
    backends = []
    for name, (fmt, body) in pages.items():
        b = {"name": name, "format": fmt, "status": status_server.route(f"/{name}", body=body),
             "public": f"http://{name}.example.net"}
        if fmt in ("icecast-admin", "shoutcast1"):
            b["password"] = "pw"
        backends.append(b)
    t = make_tuneslotd(config(redis_server, backends, {"demo": "/demo"}, interval="2s", timeout="2s"))
    assert t.run_once() == 0

    _, snap = read_snapshot(redis_server)
    g, text = redis_server.snapshot()
    for name in ("xxe-file", "xxe-http", "xxe-param", "dtd-http"):
        assert snap.backends[name].reason == "parse: <!DOCTYPE> is not allowed in a status document", name
    assert snap.backends["xinclude"].reason == 'parse: mount "/demo": unexpected content'
    assert secret_text not in text and secret_text not in t.log_text()
    requested = [path for path, _ in status_server.requests]
    assert "/xxe" not in requested and "/evil.dtd" not in requested
    assert sorted(requested) == sorted(f"/{n}" for n in pages)


def vm_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_memory_stays_flat_over_hostile_rounds(redis_server, status_server, make_tuneslotd):
    """tuneslotd's VmRSS over rounds 180-200 of hostile pages stays within 12 MiB of rounds 20-40: no per-round leak."""
    t = make_tuneslotd(config(redis_server, hostile_backends(status_server), {"demo": "/demo"},
                              interval="150ms", timeout="150ms"))
    rss = {}
    with redis_server.rounds() as rounds:
        t.start()
        for n in range(1, 201):
            rounds.next(timeout=10)
            rss[n] = vm_rss_kib(t.pid)
    # Peaks, not single samples: 1 MiB bodies come and go and glibc keeps
    # some of the heap, so peaks drift by a few MiB either way (seen: +0.2
    # to +5.9 MiB, with no leak under valgrind and no trend over 600
    # rounds).  A leak of a body or a parsed document per round would add
    # 160 MiB or more between the two windows.
    early = max(rss[n] for n in range(20, 41))
    late = max(rss[n] for n in range(180, 201))
    print(f"tuneslotd VmRSS peak: rounds 20-40 {early} KiB, rounds 180-200 {late} KiB")
    assert t.running()
    if sanitizer.enabled():
        # ASan keeps up to 256 MiB of freed blocks in quarantine, and caches
        # of its own: VmRSS measures ASan.  The 200 rounds ran sanitized and
        # LeakSanitizer checks tuneslotd's exit; the regular build's run
        # holds the bound.
        pytest.skip("VmRSS under ASan is ASan's; the bound is checked against the regular build")
    assert late - early < 12 * 1024, (early, late)
