"""A Redis client wrapper that records the name of every command its pipelines send: how
tests tell one script call for a batch from one command per item."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis


class Recording:
    """The client, recording the name of every command its pipelines send (in ``sent``);
    everything else goes to the client as is."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.sent: list[str] = []

    def pipeline(self, *args: Any, **kwargs: Any) -> Any:
        pipe = self.redis.pipeline(*args, **kwargs)
        queue = pipe.execute_command

        def recorded(*command: Any, **options: Any) -> Any:
            self.sent.append(str(command[0]).upper())
            return queue(*command, **options)

        pipe.execute_command = recorded  # type: ignore[method-assign]
        return pipe

    def __getattr__(self, name: str) -> Any:
        return getattr(self.redis, name)
