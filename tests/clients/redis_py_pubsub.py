"""redis-py's PubSub against the server on the port given, in RESP2 and
RESP3: a listener subscribed to a channel and a matching pattern receives
what another client publishes. Run by tests/pubsub.rs; exits non-zero on
any failure."""

import sys
import time

import redis

port = int(sys.argv[1])


def next_message(pubsub, deadline):
    while time.time() < deadline:
        m = pubsub.get_message(timeout=0.5)
        if m is not None:
            return m
    raise AssertionError("no message within the deadline")


for protocol in (2, 3):
    deadline = time.time() + 20
    listener = redis.Redis(host="127.0.0.1", port=port, protocol=protocol)
    publisher = redis.Redis(host="127.0.0.1", port=port, protocol=protocol)
    pubsub = listener.pubsub()
    pubsub.subscribe("news")
    pubsub.psubscribe("n*")
    kinds = sorted(next_message(pubsub, deadline)["type"] for _ in range(2))
    assert kinds == ["psubscribe", "subscribe"], kinds
    assert publisher.publish("news", "hello") == 2
    got = [next_message(pubsub, deadline) for _ in range(2)]
    assert [(m["type"], m["channel"], m["data"]) for m in got] == [
        ("message", b"news", b"hello"),
        ("pmessage", b"news", b"hello"),
    ], (protocol, got)
    assert got[1]["pattern"] == b"n*", got
    assert publisher.pubsub_numsub("news") == [(b"news", 1)]
    pubsub.unsubscribe()
    pubsub.punsubscribe()
    pubsub.close()
    listener.close()
    publisher.close()
print("ok")
