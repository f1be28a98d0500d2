"""Business rules of the emulated platform: pure functions over a `Store` and a `Clock`.

Nothing under `emulator/domain/` imports aiohttp or knows about HTTP; handlers call in here. The
domain never imports handlers, routing, the app or wire shapes (`views`), except `events.py`'s webhook
snapshot; `access`, `identity`, `timestamps` and `travel` are read helpers `views` may import.
"""
