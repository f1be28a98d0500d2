"""Business rules of the emulated platform: pure functions over a `Store` and a `Clock`.

Nothing under `emulator/domain/` imports aiohttp or knows about HTTP; handlers call in here.
"""
