"""Paywalls.ai, the third emulated product: an OpenAI-compatible billing proxy with app-scoped
balances or shared wallets, top-ups, authorization and signed webhooks (spec/paywalls-ai.openapi.yaml)."""

# Pure modules the domain may use besides its model: where the product's pages live and the reply templates
# filled in (`links`), and exact money in base units (`money`).
DOMAIN_HELPERS = ("links", "money")
