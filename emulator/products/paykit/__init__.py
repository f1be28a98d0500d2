"""PayKit, the second product of the engine (seed 003). `product.PRODUCT` is what the engine is handed;
importing this package itself loads nothing, so its pure modules stay free of aiohttp."""

# Modules outside domain/ the domain may import (ARCHITECTURE.md's layers): pure, and no wire shapes.
DOMAIN_HELPERS = ("signing",)  # Stripe's signature scheme, which the webhook verifies
