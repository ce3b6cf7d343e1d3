"""Every query of the customers package, one module per concept."""

from customers.repository.directory import CustomerRepository, record_event

__all__ = ["CustomerRepository", "record_event"]
