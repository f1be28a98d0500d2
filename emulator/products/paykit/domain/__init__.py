"""PayKit's rules: keys, the ledger, analytics, projects, the fake Stripe's billing and the webhook.
Pure code over `PayKitState`; no aiohttp, no wire shapes (except the Stripe event snapshots, rendered once
by `stripe_objects` when an event is recorded)."""
