"""PayKit's rules: keys, the ledger, analytics, projects, the fake Stripe's billing and the webhook.
Pure code over `PayKitState`; no aiohttp, no wire shapes (an event keeps a snapshot of what it is about;
`views_stripe` renders it)."""
