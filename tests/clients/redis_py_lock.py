"""redis-py's distributed Lock (redis.lock.Lock) against the server on the
port given, in RESP2 and RESP3. The lock takes its key with SET NX PX and
does everything else with three Lua scripts it registers once
(register_script: EVALSHA, and on NOSCRIPT a SCRIPT LOAD and the EVALSHA
again): release (GET, compare the token, DEL), extend (GET, compare, PTTL,
PEXPIRE by a sum or a replacement) and reacquire (GET, compare, PEXPIRE).

Checked: acquire, owned and locked; extend adding to the TTL and replacing
it; reacquire; a second client refused while the lock is held, blocking
until the first releases, and timing out; the TTL expiring so that another
client takes the lock; release, extend and reacquire of a lock that is no
longer owned raising LockNotOwnedError, and release of a lock never
acquired raising LockError; the scripts surviving SCRIPT FLUSH (the
NOSCRIPT fallback); the lock as a context manager.

Run by tests/scripting_clients.rs; prints `ok` and exits 0, or exits
non-zero with the failed assertion. Loopback only, every wait bounded (a
SIGALRM ends the whole run after TIMEOUT_S)."""

import signal
import sys
import threading
import time

import redis
from redis.exceptions import LockError, LockNotOwnedError

port = int(sys.argv[1])
TIMEOUT_S = 50
# How far a TTL read back may have run down since it was set: a loaded
# machine can pause the script for a while between two commands. Every
# check below still tells an added TTL from a replaced or reset one.
SLACK_MS = 3000


def on_alarm(signum, frame):
    print("redis_py_lock: timed out after %d s" % TIMEOUT_S, file=sys.stderr)
    sys.exit(2)


signal.signal(signal.SIGALRM, on_alarm)
signal.alarm(TIMEOUT_S)


def connect(protocol):
    return redis.Redis(host="127.0.0.1", port=port, protocol=protocol, socket_timeout=10)


def wait_until(what, condition, limit_s=10.0):
    deadline = time.monotonic() + limit_s
    while not condition():
        assert time.monotonic() < deadline, "not within %s s: %s" % (limit_s, what)
        time.sleep(0.005)


def raises(exception, action, what):
    try:
        action()
    except exception:
        return
    except Exception as e:  # noqa: BLE001 - the wrong exception is the failure
        raise AssertionError("%s raised %r, not %s" % (what, e, exception.__name__))
    raise AssertionError("%s did not raise %s" % (what, exception.__name__))


def check(protocol):
    a = connect(protocol)
    b = connect(protocol)
    name = "lock:resp%d" % protocol
    a.delete(name)

    # Acquire, owned, locked, the TTL it set.
    lock = a.lock(name, timeout=10)
    assert not lock.locked() and not lock.owned()
    assert lock.acquire(blocking=False) is True
    assert lock.locked() and lock.owned()
    assert 10000 - SLACK_MS < a.pttl(name) <= 10000, a.pttl(name)
    token = a.get(name)
    assert token == lock.local.token, (token, lock.local.token)

    # Another client is refused and owns nothing; it sees the lock held.
    other = b.lock(name, timeout=10)
    assert other.acquire(blocking=False) is False
    assert other.locked() and not other.owned()
    # With a blocking_timeout it retries until the next try would be past
    # it, then gives up.
    started = time.monotonic()
    assert other.acquire(blocking=True, blocking_timeout=0.2, sleep=0.01) is False
    assert time.monotonic() - started >= 0.19 - 0.01, time.monotonic() - started
    # Releasing a lock this object never acquired is a LockError (no token).
    raises(LockError, other.release, "release of a lock never acquired")

    # Extend adds to the TTL left; replace_ttl sets it; reacquire resets it
    # to the lock's timeout.
    assert lock.extend(5) is True
    assert 15000 - SLACK_MS < a.pttl(name) <= 15000, a.pttl(name)
    assert lock.extend(3, replace_ttl=True) is True
    assert 0 < a.pttl(name) <= 3000, a.pttl(name)
    assert lock.reacquire() is True
    assert 10000 - SLACK_MS < a.pttl(name) <= 10000, a.pttl(name)

    # The scripts are cached by SHA1; after SCRIPT FLUSH redis-py gets
    # NOSCRIPT, loads the script again and the call still succeeds.
    shas = [redis.lock.Lock.lua_release.sha, redis.lock.Lock.lua_extend.sha,
            redis.lock.Lock.lua_reacquire.sha]
    assert all(len(s) == 40 for s in shas), shas
    assert a.script_exists(*shas[1:]) == [True, True], a.script_exists(*shas)
    assert a.script_flush() is True
    assert a.script_exists(*shas) == [False, False, False]
    assert lock.extend(5) is True
    assert 10000 < a.pttl(name) <= 15000, a.pttl(name)
    assert a.script_exists(shas[1]) == [True]

    # Release: the key is gone, nobody owns it, the token is forgotten.
    lock.release()
    assert a.exists(name) == 0
    assert not lock.locked() and not lock.owned()
    raises(LockError, lock.release, "a second release")
    raises(LockError, lambda: lock.extend(1), "extend after release")

    # A blocking acquire by another client waits until the holder releases.
    assert lock.acquire(blocking=False)
    got = {}
    waiting = threading.Event()

    def blocked_acquire():
        # thread_local locks keep their token per thread: this lock object
        # is made and used in this thread only.
        waiter = connect(protocol)
        mine = waiter.lock(name, timeout=10, sleep=0.01)
        waiting.set()
        got["acquired"] = mine.acquire(blocking=True, blocking_timeout=10)
        got["at"] = time.monotonic()
        got["owned"] = mine.owned()
        mine.release()
        waiter.close()

    thread = threading.Thread(target=blocked_acquire)
    thread.start()
    waiting.wait(10)
    # Long enough for the waiter to have tried, and failed, many times.
    time.sleep(0.3)
    assert "acquired" not in got, "the second client acquired a held lock"
    released_at = time.monotonic()
    lock.release()
    thread.join(15)
    assert not thread.is_alive(), "the blocked acquire never returned"
    assert got["acquired"] is True and got["owned"] is True, got
    assert got["at"] >= released_at, got
    assert a.exists(name) == 0

    # A lock whose TTL runs out is free: another client takes it without a
    # release, and the first one's release, extend and reacquire fail.
    short = a.lock(name, timeout=0.3)
    assert short.acquire(blocking=False)
    started = time.monotonic()
    taker = b.lock(name, timeout=10)
    assert taker.acquire(blocking=True, blocking_timeout=10, sleep=0.01) is True
    assert time.monotonic() - started >= 0.2, "acquired long before the TTL ran out"
    assert taker.owned() and not short.owned()
    raises(LockNotOwnedError, lambda: short.extend(1), "extend of an expired lock another holds")
    raises(LockNotOwnedError, short.reacquire, "reacquire of an expired lock another holds")
    raises(LockNotOwnedError, short.release, "release of an expired lock another holds")
    assert taker.owned() and b.get(name) == taker.local.token, "a failed call changed the lock"
    assert 10000 - SLACK_MS < b.pttl(name) <= 10000, b.pttl(name)
    taker.release()

    # An expired lock nobody took: extend fails too, and the key stays gone.
    lapsed = a.lock(name, timeout=0.1)
    assert lapsed.acquire(blocking=False)
    wait_until("the lock's key to expire", lambda: a.exists(name) == 0)
    raises(LockNotOwnedError, lambda: lapsed.extend(1), "extend of an expired lock")
    assert a.exists(name) == 0
    raises(LockNotOwnedError, lapsed.release, "release of an expired lock")

    # A token that is not the holder's: the release script must not delete.
    assert lock.acquire(blocking=False)
    impostor = b.lock(name, timeout=10)
    impostor.local.token = b"not-the-token"
    raises(LockNotOwnedError, impostor.release, "release with the wrong token")
    assert lock.owned()
    lock.release()

    # The context manager acquires and releases.
    with a.lock(name, timeout=5, blocking_timeout=5) as held:
        assert held.owned() and a.exists(name) == 1
    assert a.exists(name) == 0
    a.close()
    b.close()


for protocol in (2, 3):
    check(protocol)
print("ok")
