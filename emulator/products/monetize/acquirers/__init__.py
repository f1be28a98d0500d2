"""Acquirer registry: the five payment processors a paywall can use, by name. Pure code."""

from __future__ import annotations

from types import MappingProxyType

from ..models import AcquirerName
from .base import Acquirer
from .chargebee import Chargebee
from .freemius import Freemius
from .overpay import Overpay
from .paddle import Paddle
from .stripe import Stripe

# Acquirers are stateless, so one read-only registry serves every emulator in the process.
_REGISTRY: MappingProxyType[str, Acquirer] = MappingProxyType(
    {a.name: a for a in (Stripe(), Paddle(), Freemius(), Chargebee(), Overpay())})


def acquirer_for(name: AcquirerName) -> Acquirer:
    return _REGISTRY[name]


__all__ = ["Acquirer", "acquirer_for"]
