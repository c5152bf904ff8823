"""The retail demo data set every backend is seeded with (sandbox, Tryton, Odoo simulator),
so the conformance suite can assert the same canonical answers from each."""

from adapters._demo.dataset import (
    DemoCustomer,
    DemoDataset,
    DemoLocation,
    DemoProduct,
    DemoStock,
    DemoVariant,
    demo_dataset,
)

__all__ = [
    "DemoCustomer",
    "DemoDataset",
    "DemoLocation",
    "DemoProduct",
    "DemoStock",
    "DemoVariant",
    "demo_dataset",
]
