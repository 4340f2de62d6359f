"""redis-py's client-side caching (RESP3, CLIENT TRACKING in default mode)
against the server on the port given: a read is served from the local
cache until another client writes the key, then the new value is read
from the server. Run by tests/tracking.rs; exits non-zero on any failure."""

import sys
import time

import redis
from redis.cache import CacheConfig
from redis.connection import CacheProxyConnection

port = int(sys.argv[1])

# redis-py 8 turns its cache on only for servers that call themselves
# Redis 7.4 or later, "to maximize compatibility with all Redis products";
# what it uses (HELLO 3, CLIENT TRACKING ON, invalidate pushes) is Redis 6's.
# ferrokv, like the Redis it follows, reports 7.0.15, so the gate is
# lowered to the version that has everything used here.
CacheProxyConnection.MIN_ALLOWED_VERSION = "6.0.0"
DEADLINE_S = 10


def server_gets(admin):
    """How many GETs the server has run (INFO commandstats)."""
    stats = admin.info("commandstats")
    return stats.get("cmdstat_get", {}).get("calls", 0)


def eventually(what, check):
    """Polls `check`: an invalidation is a push that arrives on its own
    after the write that caused it, as in any client-side cache."""
    deadline = time.time() + DEADLINE_S
    while not check():
        if time.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


admin = redis.Redis(host="127.0.0.1", port=port)
writer = redis.Redis(host="127.0.0.1", port=port)
cached = redis.Redis(
    host="127.0.0.1", port=port, protocol=3, cache_config=CacheConfig()
)
admin.config_resetstat()

writer.set("csc:k", "v1")
assert cached.get("csc:k") == b"v1"
# Served from the local cache: the server sees one GET for two reads.
assert cached.get("csc:k") == b"v1"
assert server_gets(admin) == 1, server_gets(admin)
assert "flags=t " in admin.execute_command("CLIENT", "LIST").decode()

# Another client writes the key: the server invalidates it, and the next
# read goes to the server.
writer.set("csc:k", "v2")
eventually("the new value", lambda: cached.get("csc:k") == b"v2")
assert cached.get("csc:k") == b"v2"
assert server_gets(admin) == 2, server_gets(admin)

# A key that expires is invalidated too, and so is every key on a flush.
writer.set("csc:e", "soon", px=100)
assert cached.get("csc:e") == b"soon"
eventually("the expired key", lambda: cached.get("csc:e") is None)
writer.set("csc:f", "1")
assert cached.get("csc:f") == b"1"
writer.flushdb()
eventually("the flush", lambda: cached.get("csc:f") is None)
writer.set("csc:f", "2")
eventually("the value after the flush", lambda: cached.get("csc:f") == b"2")

cached.close()
writer.close()
admin.close()
print("ok")
