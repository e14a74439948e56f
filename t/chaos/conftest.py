"""The chaos suite's stack (harness/chaos.py, ChaosStack): two real Icecast
servers fed by ffmpeg, real tuneslotd (one, or two sharing the writer's
lease) polling them into a real Redis (directly, or through a Relay that
can go silent or slow), and nginx with the module and Apache (event) with
mod_tune in front, both reading that Redis, herd control on as by default.
Built from the fixtures of t/conftest.py; every process is stopped by PID
and its logs checked in teardown as everywhere else."""

import time

import pytest

from harness.apache import TUNE_LOCATIONS
from harness.chaos import (APACHE_PROXY, BACKENDS, CAPACITY, INTERVAL, NGINX_PROXY, REFRESH,
                           STATUS, ChaosStack)
from harness.nginx import Nginx
from harness.relay import Relay


@pytest.fixture
def make_chaos(run_dir, processes, redis_server, make_icecast, make_source, make_tuneslotd,
               make_tune_apache):
    """make_chaos(mode="redirect", relay=False, schedulers=1) -> a ChaosStack
    whose front-ends hold tuneslotd's snapshot with both backends up.
    relay=True: tuneslotd and both front-ends reach Redis through a Relay
    (stack.relay), so that Redis can be blackholed or slowed for all."""
    relays = []

    def make(mode="redirect", relay=False, schedulers=1):
        address = redis_server.address
        r = None
        if relay:
            r = Relay(redis_server.host, redis_server.port)
            relays.append(r)
            address = r.address
        ice = {}
        for name, tone in zip(BACKENDS, (440, 880)):
            ice[name] = make_icecast(name=name, max_listeners={"/demo": CAPACITY})
            make_source(ice[name], "/demo", tone)
        config = {
            "redis": address,
            "interval": f"{int(INTERVAL * 1000)}ms",
            "instance": "chaos",
            "fail_after": 1,
            "backend": [{"name": name, "format": "load-xsl", "status": ice[name].url("/load.xsl"),
                         "public": ice[name].base_url} for name in BACKENDS],
            "stream": [{"name": "demo", "mount": "/demo"}],
        }
        # the same configuration for every instance, as on several hosts
        scheds = [make_tuneslotd(config, name=f"tuneslotd-{i + 1}").start()
                  for i in range(schedulers)]
        redis_server.wait_for_generation(1)
        refresh = f"{int(REFRESH * 1000)}ms"
        nginx = Nginx(run_dir, address, refresh=refresh, herd_window=None,
                      locations=("location /tune/ { tune; }\n"
                                 f"location = {STATUS} {{ tune_status; }}\n"
                                 + (NGINX_PROXY if mode == "proxy" else "")
                                 + "location / { return 404; }\n"))
        processes.append(nginx)
        nginx.start()
        modules = ("proxy", "proxy_http", "headers") if mode == "proxy" else ()
        apache = make_tune_apache(address, mpm="event", workers=64, refresh=refresh,
                                  herd_window=None, modules=modules,
                                  # a tune-in not answered with a slot says why
                                  server_conf="LogLevel warn tune:info\n",
                                  locations=TUNE_LOCATIONS + (APACHE_PROXY if mode == "proxy"
                                                              else ""))
        stack = ChaosStack(mode, redis_server, r, ice, scheds, nginx, apache)
        # both front-ends offer both backends
        for front in stack.fronts.values():
            deadline = time.monotonic() + 10
            seen = set()
            while seen != set(BACKENDS):
                assert time.monotonic() < deadline, f"{front.name} offers only {seen}"
                r_ = front.get("/tune/demo", method="HEAD")
                seen.add(stack.urls.get(r_.header("location")))
                seen.discard(None)
                time.sleep(0.02)
        return stack
    yield make
    for r in relays:
        r.stop()
