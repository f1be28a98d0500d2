"""Rules of the Paywalls.ai product (identity, balances, authorization, the proxy's admission and
charge, events and webhook subscriptions). Pure: no aiohttp, no wire shapes."""
