"""Version 1 of the canonical resources channels see.

Changes inside v1 are additive only: new fields get defaults, existing types never change.
"""

from contracts.v1.common import Address, Money, Page, Problem, ProblemFieldError
from contracts.v1.customers import Customer, CustomerCreate, CustomerPage, CustomerUpdate
from contracts.v1.inventory import InventoryLevel, InventoryLevelPage
from contracts.v1.orders import (
    CustomerReference,
    Order,
    OrderCreate,
    OrderCustomer,
    OrderEvent,
    OrderEventList,
    OrderLine,
    OrderLineInput,
    OrderPage,
    OrderTotals,
)
from contracts.v1.products import Product, ProductPage, Variant

__all__ = [
    "Address",
    "Customer",
    "CustomerCreate",
    "CustomerPage",
    "CustomerReference",
    "CustomerUpdate",
    "InventoryLevel",
    "InventoryLevelPage",
    "Money",
    "Order",
    "OrderCreate",
    "OrderCustomer",
    "OrderEvent",
    "OrderEventList",
    "OrderLine",
    "OrderLineInput",
    "OrderPage",
    "OrderTotals",
    "Page",
    "Problem",
    "ProblemFieldError",
    "Product",
    "ProductPage",
    "Variant",
]
