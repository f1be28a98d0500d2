"""PayKit, the second product of the engine (seed 003). `product.PRODUCT` is what the engine is handed;
importing this package itself loads nothing, so its pure modules stay free of aiohttp."""
