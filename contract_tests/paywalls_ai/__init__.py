"""The Paywalls.ai contract (`--paywall-product paywalls-ai`): behaviour over HTTP only."""
