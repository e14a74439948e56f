"""nginx and Apache answer alike where the shared core decides for both
(core/include/tune_choose.h, tune_status.h): the reason a proxied tune-in
ends without a slot after its retries, and the status document, byte for
byte where nothing of the host is in it.  Real Redis holding snapshots of
the test's own making, real nginx and Apache."""

import json
import re
import time

import pytest

from harness import free_port, slot, snapshot_text
from harness.apache import STATUS_LOCATION
from harness.nginx import Nginx, proxy_location

APACHE_PROXY = ('<Location "/listen/">\n    SetHandler tune\n    TuneMode proxy\n'
                '    Require all granted\n</Location>\n')
NGINX_STATUS = "location = /tune-status { tune_status; }\n"


def closed_port_url(stream: str = "demo") -> str:
    """A loopback URL nothing listens on: connecting is refused."""
    return f"http://127.0.0.1:{free_port()}/{stream}"


def start_nginx(run_dir, processes, redis_server) -> Nginx:
    n = Nginx(run_dir, redis_server.address, refresh="50ms", herd_window="0",
              locations=proxy_location() + NGINX_STATUS + "location / { return 404; }\n")
    processes.append(n)
    n.start()
    return n


def start_apache(make_tune_apache, redis_server):
    # tune:info: a tune-in not answered with a slot says why
    return make_tune_apache(redis_server.address, modules=("proxy", "proxy_http"),
                            log_level="warn tune:info",
                            locations=APACHE_PROXY + STATUS_LOCATION)


def status_text(front) -> str:
    r = front.get("/tune-status")
    assert r.status == 200, r
    return r.body.decode("ascii")


def wait_for_generation(front, generation: int) -> None:
    deadline = time.monotonic() + 5
    while (json.loads(status_text(front)).get("snapshot") or {}).get("generation") != generation:
        assert time.monotonic() < deadline, f"generation {generation} not installed"
        time.sleep(0.05)


@pytest.fixture(params=["nginx", "apache"])
def front(request, run_dir, processes, redis_server, make_tune_apache):
    """front(text) -> nginx or Apache (the test's parameter) in proxy mode under /listen/,
    tune-status at /tune-status, with text installed as generation 1."""
    def make(text):
        redis_server.put_snapshot(text, 1)
        if request.param == "nginx":
            f = start_nginx(run_dir, processes, redis_server)
        else:
            f = start_apache(make_tune_apache, redis_server)
        wait_for_generation(f, 1)
        return f
    return make


def reasons(front, stream: str) -> list[str]:
    return re.findall(rf'tune: "{stream}" not answered with a slot: ([a-z ]+)',
                      front.error_log_text())


def test_no_other_slot_is_up_after_the_proxy_tried_a_dead_one(front):
    """The only slot up refuses the connection and the other one is down: the retry finds no
    other slot, the listener gets 502, and both front-ends say "no other slot is up"; a stream
    with no slot up at all says "no slot is up"."""
    f = front(snapshot_text(slot("dead", closed_port_url(), 100),
                            slot("off", "http://127.0.0.1:9/demo", 100, health="down"),
                            slot("off", "http://127.0.0.1:9/gone", 100, stream="gone",
                                 health="down")))
    r = f.get("/listen/demo")
    assert r.status == 502, r
    assert reasons(f, "demo") == ["no other slot is up"], f.error_log_text()

    r = f.get("/listen/gone")
    assert r.status == 503, r
    assert reasons(f, "gone") == ["no slot is up"], f.error_log_text()


def test_status_documents_are_the_same(run_dir, processes, redis_server, make_tune_apache):
    """One snapshot, hostile reason included, installed in nginx and Apache: the two status
    documents have the same fields, and from "backends" on (nothing of the host's there with
    herd control off and no tune-in) the same bytes."""
    hostile = 'connect: "refused" \\ here"},{"x":"\\u0000 </script>'
    text = snapshot_text(slot("a", "http://a.example.net:8000/demo", 97, listeners=3,
                              region="eu"),
                         slot("b", "http://b.example.net:8000/demo", "unlimited",
                              health="draining"),
                         slot("a", "http://a.example.net:8000/news", 0, stream="news"),
                         extra_lines=("backend\ta\tup\t1763712000101",
                                      f"backend\tb\tdown\t1763712000099\t{hostile}"))
    redis_server.put_snapshot(text, 1)
    n = start_nginx(run_dir, processes, redis_server)
    a = start_apache(make_tune_apache, redis_server)
    docs = {}
    for front in (n, a):
        wait_for_generation(front, 1)
        docs[front] = status_text(front)

    def shape(value):
        if isinstance(value, dict):
            return {k: shape(v) for k, v in value.items()}
        if isinstance(value, list):
            return [shape(v) for v in value]
        return type(value).__name__ if value is not None else None

    ng, ap = json.loads(docs[n]), json.loads(docs[a])
    assert list(ng) == list(ap) == ["snapshot", "redis", "backends", "streams"]
    assert list(ng["redis"]) == list(ap["redis"])
    assert ng["redis"]["refresher"] > 0 and ap["redis"]["refresher"] > 0
    assert ng["redis"]["herd"] == ap["redis"]["herd"] == "off"
    assert shape(ng) == shape(ap)
    assert ng["backends"][1]["reason"] == hostile
    assert ng["streams"][0]["slots"][1]["free"] is None

    tail = ',"backends":['
    assert docs[n][docs[n].index(tail):] == docs[a][docs[a].index(tail):]
