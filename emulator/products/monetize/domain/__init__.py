"""Business rules of the emulated platform: functions over a `Store` and the instant they act at.

Nothing here imports aiohttp or knows about HTTP; handlers call in here. The domain never imports
handlers, routing, the app or `views`: it returns entities and small results (`Outcome`, transitions,
an event's snapshot, errors carrying their values), and views render them. `views` may import the
read helpers (`access`, `identity`) and those result types.
"""
