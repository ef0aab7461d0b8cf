"""orjson as the job codec of the tuned peers: arq, SAQ and taskiq document a pluggable
serializer, dramatiq a pluggable encoder. The service uses orjson too."""

from typing import Any

import orjson


def dumps(data: Any) -> bytes:
    return orjson.dumps(data)


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)
