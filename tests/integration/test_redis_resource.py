"""RedisResource against Debian's redis-server with the JSON module."""

from __future__ import annotations

import threading

import pytest

from resources.redis_json import RedisJsonClient, RedisUnreachable

pytestmark = pytest.mark.integration


def test_json_module_and_roundtrip(redis_client, unique):
    assert redis_client.ping()
    assert "ReJSON" in redis_client.modules()
    redis_client.set_json(f"{unique}:jdoe", {"EVENT_COUNT": 3, "USER_NAME": "jdoe"})
    assert redis_client.json_mget([f"{unique}:jdoe", f"{unique}:nobody"]) == {
        f"{unique}:jdoe": {"EVENT_COUNT": 3, "USER_NAME": "jdoe"},
        f"{unique}:nobody": None,
    }


def test_read_prefix_many_and_typed(redis_client, unique):
    docs = {f"{unique}:u{i}": {"EVENT_COUNT": i} for i in range(2500)}
    redis_client.set_many_json(docs)
    assert redis_client.read_prefix(f"{unique}:") == docs
    # a hash and a string among JSON documents: the typed read handles each
    redis_client.r.hset(f"{unique}:h", mapping={"EVENT_COUNT": "2"})
    redis_client.r.set(f"{unique}:s", '{"EVENT_COUNT": 5}')
    got = redis_client.read_prefix(f"{unique}:")
    assert got[f"{unique}:h"] == {"EVENT_COUNT": "2"} and got[f"{unique}:s"] == {"EVENT_COUNT": 5}
    assert redis_client.delete_prefix(f"{unique}:") == 2502


def test_iter_prefix_streams_the_same_documents_and_stops_when_closed(redis_client, unique):
    docs = {f"{unique}:u{i}": {"EVENT_COUNT": i} for i in range(2500)}
    redis_client.set_many_json(docs)
    redis_client.r.hset(f"{unique}:h", mapping={"EVENT_COUNT": "2"})
    # small batches: several MGET groups cross the reader thread's queue
    assert dict(redis_client.iter_prefix(f"{unique}:", batch=100, group=2)) == {**docs, f"{unique}:h": {"EVENT_COUNT": "2"}}
    stream = redis_client.iter_prefix(f"{unique}:", batch=100, group=1)
    first = next(stream)
    assert first[0] in docs or first[0] == f"{unique}:h"
    stream.close()  # a consumer that stops early ends the reader thread
    assert not [t for t in threading.enumerate() if t.name.startswith("redis-scan")]
    redis_client.delete_prefix(f"{unique}:")


def test_prefix_with_glob_characters_is_literal(redis_client, unique):
    redis_client.set_json(f"{unique}*[x]:a", {"n": 1})
    redis_client.set_json(f"{unique}-other:a", {"n": 2})
    assert list(redis_client.read_prefix(f"{unique}*[x]:")) == [f"{unique}*[x]:a"]


def test_password_never_in_errors():
    client = RedisJsonClient("redis://user:hunter2-secret@127.0.0.1:1/0", timeout=0.5)
    with pytest.raises(RedisUnreachable) as e:
        client.ping()
    assert "hunter2-secret" not in str(e.value) and "127.0.0.1" in str(e.value)
    assert "hunter2-secret" not in client.display_url
