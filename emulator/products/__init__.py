"""The emulated products, one package each. Products never import each other; `app.py` hands each one's
`Product` to the engine."""
