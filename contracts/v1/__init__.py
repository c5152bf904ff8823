"""Version 1 of the canonical resources channels see.

Changes inside v1 are additive only: new fields get defaults, existing types never change.
"""

from contracts.v1.common import Address, Money, Page, Problem, ProblemFieldError
from contracts.v1.customers import Customer, CustomerCreate, CustomerUpdate
from contracts.v1.inventory import InventoryLevel
from contracts.v1.orders import (
    CustomerReference,
    Order,
    OrderCreate,
    OrderEvent,
    OrderLine,
    OrderLineInput,
    OrderTotals,
)
from contracts.v1.products import Product, Variant

__all__ = [
    "Address",
    "Customer",
    "CustomerCreate",
    "CustomerReference",
    "CustomerUpdate",
    "InventoryLevel",
    "Money",
    "Order",
    "OrderCreate",
    "OrderEvent",
    "OrderLine",
    "OrderLineInput",
    "OrderTotals",
    "Page",
    "Problem",
    "ProblemFieldError",
    "Product",
    "Variant",
]
