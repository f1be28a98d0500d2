"""monetize.software, the first product of the engine (seeds 000-002). `product.PRODUCT` is what the engine
is handed; importing this package itself loads nothing, so its pure modules stay free of aiohttp."""
