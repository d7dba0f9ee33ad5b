"""Redis (redis-py): read the sink's aggregate documents fast and by type.

The Redis sink writes one key per record key (`<topic>:<key>`); reconciliation reads them all.
SCAN by prefix then JSON.MGET in batches: one round trip per batch instead of one per key.
"""

from __future__ import annotations

import json
import logging
import operator
import queue
import threading
from collections.abc import Iterator, Mapping
from typing import Any, Self

import orjson
from pydantic import Field

from resources._http import ClientOwner
from resources._lazy import lazy_import
from resources.endpoints import REDIS_URL
from resources.errors import ResourceError, Unreachable
from resources.redaction import REDACTED, scrub

redis = lazy_import("redis")
_END = object()  # end of an iter_prefix stream
_first = operator.itemgetter(0)
log = logging.getLogger(__name__)


class RedisResourceError(ResourceError):
    system = "Redis"


class RedisUnreachable(Unreachable, RedisResourceError):
    pass


def _glob_escape(prefix: str) -> str:
    """SCAN's MATCH is a glob: the prefix with its glob characters escaped."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in prefix)


def _safe_url(url: str) -> str:
    """The URL without any password it may embed."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = f"{parts.username or ''}:{REDACTED}@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


class RedisJsonClient:
    def __init__(
        self,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        tls: bool = False,
        tls_insecure: bool = False,
        ca_cert: str | None = None,
        timeout: float = 10.0,
    ):
        self.display_url = _safe_url(url)
        self._secrets = {s for s in (password,) if s}
        from urllib.parse import urlsplit

        if urlsplit(url).password:
            self._secrets.add(urlsplit(url).password)
        # hiredis (redis[hiredis]) parses replies in C: most of a large read is reply parsing
        kwargs: dict[str, Any] = {"socket_timeout": timeout, "socket_connect_timeout": timeout, "decode_responses": True}
        if username:
            kwargs["username"] = username
        if password:
            kwargs["password"] = password
        if tls and not url.startswith("rediss://"):
            url = "rediss://" + url.split("://", 1)[-1]
        if url.startswith("rediss://"):
            kwargs["ssl_cert_reqs"] = "none" if tls_insecure else "required"
            if ca_cert:
                kwargs["ssl_ca_certs"] = ca_cert
        self._timeout = timeout
        self.r = redis.Redis.from_url(url, **kwargs)
        self._raw = redis.Redis.from_url(url, **{**kwargs, "decode_responses": False})
        self._closed = False

    def close(self) -> None:
        self._closed = True
        self.r.close()
        self._raw.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _wrap(self, what: str, e: Exception) -> RedisResourceError:
        text = scrub(f"Redis at {self.display_url}: {what}: {type(e).__name__}: {e}", self._secrets)
        cls = RedisUnreachable if isinstance(e, (redis.ConnectionError, redis.TimeoutError)) else RedisResourceError
        return cls(text)

    def ping(self) -> bool:
        try:
            return bool(self.r.ping())
        except redis.RedisError as e:
            raise self._wrap("PING", e) from None

    def modules(self) -> list[str]:
        try:
            return [m["name"] for m in self.r.module_list()]
        except redis.RedisError as e:
            raise self._wrap("MODULE LIST", e) from None

    def scan_keys(self, prefix: str, count: int = 5000) -> Iterator[str]:
        # SCAN's MATCH is a glob: escape the glob characters a prefix may contain
        pattern = _glob_escape(prefix) + "*"
        try:
            yield from self.r.scan_iter(match=pattern, count=count)
        except redis.RedisError as e:
            raise self._wrap(f"SCAN {prefix}*", e) from None

    def json_mget(self, keys: list[str], batch: int = 1000) -> dict[str, Any]:
        """Documents by key (root value); keys that are missing or not JSON map to None."""
        return self._parse(self._mget_raw(keys, batch))

    def _mget_raw(self, keys: list[str], batch: int) -> list[tuple[list[str], list[bytes | None]]]:
        """(keys, raw replies) per JSON.MGET; several MGETs per round trip, replies left as bytes for orjson."""
        out = []
        try:
            for j in range(0, len(keys), batch * 8):
                group = [keys[i : i + batch] for i in range(j, min(j + batch * 8, len(keys)), batch)]
                with self._raw.pipeline(transaction=False) as p:
                    for chunk in group:
                        p.execute_command("JSON.MGET", *chunk, "$")
                    out += zip(group, p.execute(), strict=True)
        except redis.RedisError as e:
            raise self._wrap("JSON.MGET", e) from None
        return out

    def _parse(self, replies: list[tuple[list[str], list[bytes | None]]]) -> dict[str, Any]:
        return dict(self._pairs(replies))

    def _pairs(self, replies: list[tuple[list[str], list[bytes | None]]]) -> Iterator[tuple[str, Any]]:
        """(key, document) per key: each JSON.MGET reply parsed by one orjson call over the whole batch (a
        thousand small parses cost more than one large one); the `$` path wraps each document in a list."""
        loads = orjson.loads
        others: list[str] = []
        for chunk, raw in replies:
            if None not in raw:
                docs = loads(b"[" + b",".join(raw) + b"]")
                if all(docs):  # every reply a one-document list: unwrapped in C, no Python step per document
                    yield from zip(chunk, map(_first, docs))
                    continue
            else:  # a nil: a key gone or of another type
                docs = [loads(v) if v else None for v in raw]
            for k, d in zip(chunk, docs, strict=True):
                if d:
                    yield k, d[0]
                else:
                    others.append(k)
        # JSON.MGET answers nil for missing keys and for keys of another type: read those by type
        if others:
            yield from self.read_typed(others).items()

    def read_typed(self, keys: list[str], batch: int = 1000) -> dict[str, Any]:
        """Type-aware read: ReJSON-RL -> document, hash -> dict, string -> parsed JSON or text."""
        out: dict[str, Any] = {}
        try:
            for i in range(0, len(keys), batch):
                chunk = keys[i : i + batch]
                with self.r.pipeline(transaction=False) as p:
                    for k in chunk:
                        p.type(k)
                    types = p.execute()
                with self.r.pipeline(transaction=False) as p:
                    for k, t in zip(chunk, types, strict=True):
                        if t == "ReJSON-RL":
                            p.execute_command("JSON.GET", k, "$")
                        elif t == "hash":
                            p.hgetall(k)
                        elif t == "string":
                            p.get(k)
                        else:
                            p.exists(k)  # placeholder keeps positions aligned
                    values = p.execute()
                for k, t, v in zip(chunk, types, values, strict=True):
                    if t == "ReJSON-RL":
                        out[k] = json.loads(v)[0] if v else None
                    elif t == "string":
                        try:
                            out[k] = json.loads(v)
                        except (TypeError, ValueError):
                            out[k] = v
                    elif t == "hash":
                        out[k] = v
                    else:
                        out[k] = None
        except redis.RedisError as e:
            raise self._wrap("typed read", e) from None
        return out

    def read_prefix(self, prefix: str) -> dict[str, Any]:
        return self.json_mget(list(self.scan_keys(prefix)))

    def iter_prefix(self, prefix: str, batch: int = 1000, group: int = 8) -> Iterator[tuple[str, Any]]:
        """(key, document) of every key with the prefix, streamed: SCAN pages feed pipelined JSON.MGETs of
        `group` x `batch` keys, so at most a few such groups are held at once, whatever the keyspace size.
        A reader thread fetches the next group while the caller consumes this one (Redis serializes while
        Python parses and compares). SCAN may return a key twice while Redis rehashes, and so may this (it
        keeps no set of a million keys to prevent it); compare_with_source counts a NAME once."""
        q: queue.Queue = queue.Queue(maxsize=2)
        stop = threading.Event()

        def put(item: Any) -> None:
            while not stop.is_set():
                try:
                    q.put(item, timeout=0.1)
                    return
                except queue.Full:
                    continue

        def read() -> None:
            # Two connections keep Redis busy the whole time: the JSON.MGETs of one SCAN page are sent, then the
            # next SCAN runs on the other connection while Redis serves them, and their replies are read only after
            # (parsed by hiredis in C while the next MGETs are already queued on the server).
            scan_conn = mget_conn = None
            clean = False
            try:
                scan_conn = self.r.connection_pool.get_connection()  # decodes: keys as str
                mget_conn = self._raw.connection_pool.get_connection()  # documents as bytes, for orjson
                pattern = _glob_escape(prefix) + "*"
                cursor, started, sent = 0, False, None
                while not stop.is_set() and (cursor != 0 or not started):
                    started = True
                    scan_conn.send_command("SCAN", cursor, "MATCH", pattern, "COUNT", batch * group)
                    cursor, keys = scan_conn.read_response()
                    cursor = int(cursor)
                    chunks = [keys[i : i + batch] for i in range(0, len(keys), batch)]
                    if chunks:
                        mget_conn.send_packed_command(mget_conn.pack_commands([("JSON.MGET", *c, "$") for c in chunks]))
                    if sent:
                        put([(c, mget_conn.read_response()) for c in sent])
                    sent = chunks
                if sent and not stop.is_set():
                    put([(c, mget_conn.read_response()) for c in sent])
                    sent = None
                clean = not sent
                put(_END)
            except redis.RedisError as e:
                put(self._wrap(f"SCAN {prefix}* + JSON.MGET", e))
            except BaseException as e:
                put(e)
            finally:
                for pool, conn in ((self.r.connection_pool, scan_conn), (self._raw.connection_pool, mget_conn)):
                    if conn is not None:
                        if not clean:
                            conn.disconnect()  # replies may be left unread: never hand it back to the pool in that state
                        pool.release(conn)

        reader = threading.Thread(target=read, name=f"redis-scan {self.display_url}", daemon=True)
        reader.start()
        try:
            while True:
                item = q.get()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield from self._pairs(item)
        finally:
            stop.set()
            reader.join(timeout=self._timeout)

    def set_json(self, key: str, value: Any) -> None:
        try:
            self.r.execute_command("JSON.SET", key, "$", json.dumps(value))
        except redis.RedisError as e:
            raise self._wrap(f"JSON.SET {key}", e) from None

    def set_many_json(self, docs: Mapping[str, Any], batch: int = 1000) -> None:
        items = list(docs.items())
        try:
            for i in range(0, len(items), batch):
                with self.r.pipeline(transaction=False) as p:
                    for k, v in items[i : i + batch]:
                        p.execute_command("JSON.SET", k, "$", json.dumps(v))
                    p.execute()
        except redis.RedisError as e:
            raise self._wrap("JSON.SET (pipelined)", e) from None

    def delete_prefix(self, prefix: str) -> int:
        keys = list(self.scan_keys(prefix))
        try:
            return int(self.r.delete(*keys)) if keys else 0
        except redis.RedisError as e:
            raise self._wrap(f"DEL {prefix}*", e) from None


class RedisResource(ClientOwner):
    """The Redis the sink writes aggregates into. Options mirror the sink's redis.* settings."""

    url: str = Field(default=REDIS_URL.default, description="redis:// or rediss:// URL (env REDIS_URL)")
    username: str | None = Field(default=None, description="ACL user (sink: redis.username)")
    password: str | None = Field(default=None, description="pass dagster.EnvVar (sink: redis.password)")
    tls: bool = Field(default=False, description="sink: redis.tls")
    tls_insecure: bool = Field(default=False, description="skip certificate checks (sink: redis.insecure)")
    ca_cert: str | None = Field(default=None, description="CA bundle path (sink: redis.cacert)")
    timeout_seconds: float = Field(default=10.0)

    def get_client(self) -> RedisJsonClient:
        """The client this resource owns for the execution (closed at teardown, or by `with`)."""
        return self._owned_client()

    def _new_client(self, kind: str) -> RedisJsonClient:
        return RedisJsonClient(
            self.url,
            username=self.username,
            password=self.password,
            tls=self.tls,
            tls_insecure=self.tls_insecure,
            ca_cert=self.ca_cert,
            timeout=self.timeout_seconds,
        )

    def __repr__(self) -> str:
        return f"RedisResource(url={_safe_url(self.url)!r}, username={self.username!r}, password={REDACTED if self.password else None})"

    __str__ = __repr__
