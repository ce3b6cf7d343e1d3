"""Every query of the customers package, one module per concept."""

from customers.repository.directory import CustomerRepository

__all__ = ["CustomerRepository"]
