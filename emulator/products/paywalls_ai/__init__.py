"""Paywalls.ai, the third emulated product: an OpenAI-compatible billing proxy with app-scoped
balances or shared wallets, top-ups, authorization and signed webhooks (spec/paywalls-ai.openapi.yaml)."""
