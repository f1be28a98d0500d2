"""Helpers for using the emulator from tests, in or outside pytest: the public surface is `__all__`.

Import from `paywall_emulator.testing`; the modules under it (`harness`, `control`, `webhooks`,
`monetize`, `loop`) are its layout, not an API. The loop threads run a `RealTimeEventLoop` (`loop.py`) so
freezegun cannot stall them, while the emulator's domain clock follows `datetime.now()` (freezegun and
time-machine move it).
"""

from __future__ import annotations

from .control import ControlClient, ControlError, PaywallClock
from .harness import ThreadedEmulator
from .monetize import PaywallInfo, Paywalls, PriceInfo
from .webhooks import ReceivedWebhook, WebhookReceiver, verify_signature

# Each name is here because a test author meets it:
__all__ = [
    "ControlClient",  # the control API against any emulator, `paywall-emulator serve` included
    "ControlError",  # what ControlClient raises: catch it and read `status` / `code`
    "PaywallClock",  # the one clock API (`emu.clock`, `control.clock`, the `paywall_clock` fixture)
    "PaywallInfo",  # `emu.paywalls.info(name)`: owner, acquirer, prices of one paywall
    "Paywalls",  # `emu.paywalls`: ids by name, lookups by acquirer
    "PriceInfo",  # `PaywallInfo.prices` / `.price(label)`
    "ReceivedWebhook",  # what `WebhookReceiver.wait_for` returns
    "ThreadedEmulator",  # the emulator in a thread (what the `paywall_emulator` fixture hands out)
    "WebhookReceiver",  # a signature-checking webhook endpoint (the `paywall_webhooks` fixture)
    "verify_signature",  # the check a merchant backend makes on every delivery
]
