"""Stock levels per SKU and location; later, availability rules and reservations."""
