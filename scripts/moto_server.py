"""Starts moto's server with DynamoDB's item operations made atomic.

moto reads, changes and writes an item in separate unlocked steps on a threaded server, so two
concurrent UpdateItem calls can lose one counter increment, or both create a missing item and
both count from zero (measured on moto 5.2.5: 45 concurrent ADDs to a new per-minute counter
returned counts up to 30 to 31-33 of them, so a limit of 30 admitted that many). Real DynamoDB
applies each item operation atomically, and our contract suites test exactly that, so this
launcher serialises moto's DynamoDB item operations under one lock: the backend's operations, and
the request handlers around them, because a handler renders an UpdateItem's ALL_NEW answer from
the live item after the backend call returns, where another request's write could show through.
Everything else is moto as shipped.
"""

import threading

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.responses import DynamoHandler
from moto.server import main

_ITEM_OPERATIONS = (
    "put_item",
    "get_item",
    "update_item",
    "delete_item",
    "query",
    "transact_write_items",
    "transact_get_items",
    "batch_write_item",
)
_lock = threading.RLock()


def _atomic(operation):
    def locked(self, *args, **kwargs):
        with _lock:
            return operation(self, *args, **kwargs)

    locked.__name__ = operation.__name__
    return locked


for _cls in (DynamoDBBackend, DynamoHandler):
    for _name in _ITEM_OPERATIONS:
        _operation = getattr(_cls, _name, None)
        if _operation is not None:
            setattr(_cls, _name, _atomic(_operation))

if __name__ == "__main__":
    main()
