"""Starts moto's server with DynamoDB's item operations made atomic.

moto reads, changes and writes an item in separate unlocked steps on a threaded server, so two
concurrent UpdateItem calls can lose one counter increment. Real DynamoDB applies each item
operation atomically, and our contract suites test exactly that, so this launcher serialises
moto's DynamoDB item operations under one lock. Everything else is moto as shipped.
"""

import threading

from moto.dynamodb.models import DynamoDBBackend
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


for _name in _ITEM_OPERATIONS:
    _operation = getattr(DynamoDBBackend, _name, None)
    if _operation is not None:
        setattr(DynamoDBBackend, _name, _atomic(_operation))

if __name__ == "__main__":
    main()
