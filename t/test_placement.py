"""Where a new station fits (Centova's "API clustering"): GET /place on tuneslotd's HTTP
listener and `tuneslotd ctl place`, against a scripted fleet of status pages: the order,
the region first, drains and dead backends left out with why, empty answers that say why,
and bad query values answered 400.  Real tuneslotd and Redis; the status pages are the
test's own."""

import json
import re
import subprocess
import urllib.error
import urllib.request

from harness import free_port
from harness.net import wait_for_port, wait_until


def load(**mounts) -> str:
    """A load.xsl page: mount name -> (listeners, max) for each mount."""
    return "<load>" + "".join(f'<mount name="/{m}" listeners="{n}" max="{cap}">{max(cap - n, 0)}</mount>'
                              for m, (n, cap) in mounts.items()) + "</load>"


def get(port: int, target: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{target}", timeout=5) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


def ctl(daemon, *args):
    return subprocess.run([str(daemon.binary), "ctl", "-c", str(daemon.config_path), *args],
                          capture_output=True, text=True, timeout=10, env=daemon.env())


def started(make_tuneslotd, config, port):
    """tuneslotd on config, once its HTTP listener on port accepts."""
    t = make_tuneslotd(config).start()
    wait_for_port("127.0.0.1", port, alive=t.running)
    return t


def fleet(redis_server, status_server, port):
    """Five backends: two in eu (one roomy, one nearly full), one in us, one dead, one
    drained by the operator later; max_clients caps the server as a whole."""
    def backend(name, region, page, **extra):
        return {"name": name, "region": region, "public": f"http://{name}.example.net",
                "status": status_server.route(f"/{name}.xsl", body=page), **extra}
    return {"redis": redis_server.address, "interval": "200ms", "metrics": f"127.0.0.1:{port}",
            "backend": [backend("eu-big", "eu", load(demo=(120, 500), jazz=(80, 500)), max_clients=1000),
                        backend("eu-small", "eu", load(demo=(90, 100)), max_clients=100),
                        backend("us-1", "us", load(demo=(10, 300)), max_clients=400),
                        {"name": "dead", "region": "us", "public": "http://dead.example.net",
                         "status": status_server.route("/dead.xsl", status=503)},
                        backend("open", "", load(demo=(5, 100)))],
            "stream": [{"name": "demo", "mount": "/demo"}, {"name": "jazz", "mount": "/jazz"}]}


def test_place_orders_the_fleet(redis_server, status_server, make_tuneslotd):
    port = free_port()
    t = started(make_tuneslotd, fleet(redis_server, status_server, port), port)
    wait_until(lambda: json.loads(get(port, "/place")[2])["left_out"] == [
        {"name": "dead", "why": "down: HTTP 503"}], timeout=10, what="a round with every backend polled")

    # the most to spare after 50 first: eu-big 1000-200-50, us-1 400-10-50; eu-small has
    # 10 to spare, not 50; "open" has no limit known, so it comes after every known one
    status, kind, body = get(port, "/place?listeners=50")
    assert (status, kind) == (200, "application/json")
    answer = json.loads(body)
    assert [(r["name"], r["spare_after"]) for r in answer["ranks"]] == [
        ("eu-big", 750), ("us-1", 340), ("open", None)]
    assert answer["ranks"][0] == {"rank": 1, "name": "eu-big", "region": "eu", "in_region": False,
                                  "listeners": 200, "capacity": 1000, "spare_after": 750}
    assert {x["name"]: x["why"] for x in answer["left_out"]} == {
        "eu-small": "full for it: 10 to spare, 50 wanted", "dead": "down: HTTP 503"}
    assert answer["empty_because"] is None

    # region us first, then the rest
    answer = json.loads(get(port, "/place?listeners=5&region=us")[2])
    assert [(r["name"], r["in_region"]) for r in answer["ranks"]] == [
        ("us-1", True), ("eu-big", False), ("eu-small", False), ("open", False)]

    # the operator drains eu-big: left out, with the note
    assert ctl(t, "drain", "eu-big", "--note", "new disks").returncode == 0
    wait_until(lambda: "eu-big" not in [r["name"] for r in json.loads(get(port, "/place")[2])["ranks"]],
               timeout=10, what="the drain applied")
    answer = json.loads(get(port, "/place?listeners=50&region=eu")[2])
    assert [r["name"] for r in answer["ranks"]] == ["us-1", "open"]
    assert {"name": "eu-big", "why": "draining: new disks"} in answer["left_out"]

    # as text, from ctl
    r = ctl(t, "place", "--listeners", "50", "--region", "us")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[:3] == [
        "a station of 50 listeners, region us first:",
        "  1. us-1  region us  listeners 10 of 400, 340 to spare after it",
        "  2. open  listeners 5, capacity not known"]
    assert "  eu-big: draining: new disks" in r.stdout
    j = ctl(t, "place", "--listeners", "50", "--json")
    assert j.returncode == 0 and json.loads(j.stdout)["ranks"][0]["name"] == "us-1"
    print(f"placement: GET /place?listeners=50&region=us ->\n{r.stdout}")


def test_empty_answers_say_why(redis_server, status_server, make_tuneslotd):
    port = free_port()
    t = started(make_tuneslotd, fleet(redis_server, status_server, port), port)
    wait_until(lambda: len(json.loads(get(port, "/place")[2])["ranks"]) == 4, timeout=10,
               what="a round with every backend polled")
    answer = json.loads(get(port, "/place?region=asia")[2])
    assert answer["ranks"] == [] and answer["empty_because"] == \
        'no backend is in region "asia" (regions: eu, us)'

    # "open" has no known limit, so it always fits; drain it: then nothing fits 2000
    assert ctl(t, "drain", "open").returncode == 0
    wait_until(lambda: len(json.loads(get(port, "/place")[2])["ranks"]) == 3, timeout=10,
               what="the drain applied")
    answer = json.loads(get(port, "/place?listeners=2000")[2])
    assert answer["ranks"] == []
    assert answer["empty_because"] == ("no backend has room for 2000 listeners: 1 down, 1 draining, "
                                       "3 full for it (the most to spare: eu-big, 800)")
    r = ctl(t, "place", "--listeners", "2000")
    assert r.returncode == 0 and "no place: no backend has room for 2000 listeners" in r.stdout


def test_bad_queries_are_400(redis_server, status_server, make_tuneslotd):
    port = free_port()
    t = started(make_tuneslotd, fleet(redis_server, status_server, port), port)
    wait_until(lambda: get(port, "/place")[0] == 200, timeout=10, what="the listener")
    for target, why in [("/place?listeners=-5", 'invalid listeners "-5"'),
                        ("/place?listeners=1e3", 'invalid listeners "1e3"'),
                        ("/place?region=eu%0d%0aX:1", 'invalid region "eu%0d%0aX:1"'),
                        ("/place?region=eu&region=us", 'parameter "region" given twice'),
                        ("/place?format=html", 'invalid format "html"'),
                        ("/place?x=1", 'unknown parameter "x"')]:
        status, kind, body = get(port, target)
        assert status == 400 and kind.startswith("text/plain") and body.startswith(why), (target, body)
    assert get(port, "/nowhere")[0] == 404
    r = ctl(t, "place", "--listeners", "lots")
    assert r.returncode == 2 and 'invalid listeners "lots"' in r.stderr, r.stderr


def test_ctl_place_needs_the_listener(redis_server, status_server, make_tuneslotd, run_dir):
    cfg = fleet(redis_server, status_server, free_port())
    del cfg["metrics"]
    t = make_tuneslotd(cfg)
    r = ctl(t, "place")
    assert r.returncode == 1
    assert re.search(r"place asks the running tuneslotd on its HTTP listener, and .* sets none "
                     r"\(the key `metrics`\)", r.stderr), r.stderr
    # configured, but nothing runs there
    cfg["metrics"] = f"127.0.0.1:{free_port()}"
    t.config_path.write_text(__import__("harness").toml_text(cfg))
    r = ctl(t, "place")
    assert r.returncode == 1 and "Connection refused" in r.stderr, r.stderr
