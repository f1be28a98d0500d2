"""The product-agnostic engine: spec loading and compiled routing, validation, errors, the clock, ids,
the world, faults, the control API. It knows products only as `product.Product` values and imports none."""
