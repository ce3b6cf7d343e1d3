"""Every query of the customers package, one module per concept.

- `activity`: the hot write path (customer upsert + timeline row + weekly rollup, one statement);
- `directory`: customer records, search, timeline reads, edits and the access audit log;
- `segments`, `analytics`, `followups`, `complaints`: their own tables and reads.
"""

from customers.repository.activity import ActivityRepository, record_event, set_customer_tier
from customers.repository.directory import CustomerRepository

__all__ = ["ActivityRepository", "CustomerRepository", "record_event", "set_customer_tier"]
