"""Push invalidation across replicas: Redis pub/sub on top of the polled revisions.

Every replica already notices a change within ``StoreState.staleness`` seconds by polling
the store's revision counters (0.25 s by default). A change feed makes it immediate: the
replica that made an operator change publishes one message, every subscribed replica
drops its cache on receipt. The message carries no data (only which area moved), so a
forged message can only cost a cache reload, never grant anything; the store stays the
single source of truth.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import redis

_log = logging.getLogger("ztgate.service.changes")
DEFAULT_CHANNEL = "ztgate:changes"


class RedisChangeFeed:
    """Publish and receive "something changed" notices on one Redis channel."""

    def __init__(self, url: str, *, channel: str = DEFAULT_CHANNEL) -> None:
        self.channel = channel
        self._client = redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
        self._pubsub: redis.client.PubSub | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def publish(self, area: str) -> None:
        """Tell every replica that ``area`` changed; failures are logged (polling remains)."""
        try:
            self._client.publish(self.channel, area)
        except redis.RedisError as error:
            _log.warning("change feed publish failed: %s", type(error).__name__)

    def subscribe(self, on_change: Callable[[str], None]) -> None:
        """Call ``on_change(area)`` from a background thread for every message."""
        pubsub = self._client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
        pubsub.subscribe(self.channel)
        self._pubsub = pubsub

        def listen() -> None:
            while not self._stop.is_set():
                try:
                    message = pubsub.get_message(timeout=0.2)
                except redis.RedisError as error:
                    _log.warning("change feed receive failed: %s", type(error).__name__)
                    self._stop.wait(1.0)
                    continue
                if message is not None and message.get("type") == "message":
                    data = message.get("data")
                    area = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
                    on_change(area)

        self._thread = threading.Thread(target=listen, name="ztgate-change-feed", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self._pubsub is not None:
            self._pubsub.close()
        self._client.close()


class PostgresChangeFeed:
    """The same notices over PostgreSQL ``LISTEN``/``NOTIFY``: no extra server for teams
    that already run the store on PostgreSQL."""

    def __init__(self, url: str, *, channel: str = "ztgate_changes") -> None:
        import psycopg

        if not channel.replace("_", "").isalnum() or not channel[0].isalpha():
            raise ValueError("channel must be a plain identifier")
        self.channel = channel
        self._url = url.replace("postgresql+psycopg://", "postgresql://", 1)
        self._psycopg = psycopg
        self._publisher = psycopg.connect(self._url, autocommit=True)
        self._publish_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def publish(self, area: str) -> None:
        try:
            with self._publish_lock:
                self._publisher.execute("SELECT pg_notify(%s, %s)", (self.channel, area))
        except self._psycopg.Error as error:
            _log.warning("change feed publish failed: %s", type(error).__name__)

    def subscribe(self, on_change: Callable[[str], None]) -> None:
        listener = self._psycopg.connect(self._url, autocommit=True)
        listener.execute(f'LISTEN "{self.channel}"')

        def listen() -> None:
            try:
                while not self._stop.is_set():
                    for notice in listener.notifies(timeout=0.2):
                        on_change(notice.payload)
            except self._psycopg.Error as error:
                _log.warning("change feed receive failed: %s", type(error).__name__)
            finally:
                listener.close()

        self._thread = threading.Thread(target=listen, name="ztgate-pg-change-feed", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self._publisher.close()
