"""Starting checkouts and customer-portal sessions.

Rules: price ids arrive as numbers or numeric strings; an unknown, foreign or stale price is a 404;
an active purchase answers 409 `{hasActivePurchase: true}` unless `ignoreActivePurchase`; the same
`Idempotency-Key` within 24 h returns the stored answer and creates nothing, a different body with
the same key is refused (the SDK's attribution fields do not count); `__SESSION__` in a return URL
becomes the session id; `trial_days` is never granted twice (`had_previous_trial`). Freemius has
no hosted portal; a portal needs an active subscription. No aiohttp.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from ....engine.structs import struct
from ..acquirers import acquirer_for
from ..errors import BadRequestError, ConflictError, ForbiddenError, NotFoundError
from ..models import CheckoutSession, IdempotencyRecord, Offer, Paywall, PortalSession, Price, User
from ..state import Store
from .access import has_access
from .idempotency import fingerprint_of, keep, replayed
from .identity import ensure_link, find_or_create_user
from .periods import add_interval

# Attribution the SDK resolves asynchronously and per client instance (each BillingClient has its own
# visitor id, and a retry may carry an id the first attempt did not have yet): two attempts of one call
# may differ only in these, so they are left out of the idempotency fingerprint.
ATTRIBUTION_FIELDS = frozenset({"visitorId", "experimentId", "variantKey"})
SESSION_PLACEHOLDER = "__SESSION__"


@struct(kw_only=True)
class CheckoutRequest:
    price_id: Any
    success_url: str | None = None
    error_url: str | None = None
    shop_url: str | None = None
    trial_days: int | None = None
    ignore_active_purchase: bool = False
    user_meta: dict[str, Any] | None = None
    offer_id: str | None = None
    attribution: dict[str, Any] | None = None


def find_price(store: Store, paywall: Paywall, raw_id: Any) -> Price:
    if raw_id is None or isinstance(raw_id, bool) or (isinstance(raw_id, str) and not raw_id.strip()):
        raise BadRequestError("Missing required parameters: email, priceId", code="missing_parameters",
                              error="Missing required parameters: email, priceId")
    price_id = str(raw_id).strip()
    if isinstance(raw_id, float) and raw_id.is_integer():
        price_id = str(int(raw_id))
    price = store.prices.get(price_id)
    if price is None or price.paywall_id != paywall.id or not price.active:
        raise NotFoundError(f"Price {price_id} not found on paywall {paywall.id} (prices change: read them "
                            "from bootstrap)", code="price_not_found", error="Price not found")
    return price


def applicable_offer(store: Store, now: datetime, paywall: Paywall, price: Price,
                     offer_id: str | None) -> Offer | None:
    """The offer the first charge gets. A named offer applies when it is this paywall's, targets this
    price (or every price), is live and discounts something; a foreign or stale one is ignored, as the
    server does. Without a name, live end-date offers apply on their own (a targeted one wins over a
    global one); countdown offers only when named, since their clock lives in the buyer's browser."""
    def live(o: Offer) -> bool:
        return (o.paywall_id == paywall.id and o.price_id in (None, price.id) and (o.discount_percent or 0) > 0
                and (o.expires_at is None or o.expires_at > now))

    if offer_id:
        named = store.offers.get(str(offer_id))
        return named if named is not None and live(named) else None
    dated = [o for o in store.offers_of(paywall.id) if o.expires_at is not None and live(o)]
    return min(dated, key=lambda o: (o.price_id is None, o.id), default=None)


def idempotent_replay(store: Store, now: datetime, scope: str, key: str | None,
                      fingerprint: str) -> CheckoutSession | None:
    """The checkout answered first for a repeated key, or None; a reused key with another body is a 409."""
    record = replayed(store.idempotency, (scope, key), now, fingerprint) if key else None
    return record.checkout if record is not None else None


def remember(store: Store, now: datetime, record: IdempotencyRecord) -> None:
    keep(store.idempotency, (record.scope, record.key), record, now)


def request_fingerprint(paywall_id: str, principal: Any, body: dict[str, Any]) -> str:
    """What makes two start-checkout calls "the same request": the paywall, the caller and the body
    without the SDK's attribution fields (nor `email` on the Bearer path, which ignores it); `priceId` 101
    and "101" name the same price."""
    ignored = ATTRIBUTION_FIELDS | ({"email"} if getattr(principal, "user_id", None) is not None else set())
    kept = {k: v for k, v in body.items() if k not in ignored}
    if isinstance(kept.get("priceId"), (int, str)) and not isinstance(kept.get("priceId"), bool):
        kept["priceId"] = str(kept["priceId"]).strip()
    return fingerprint_of(paywall_id, principal, kept)


def with_session(url: str | None, session_id: str) -> str | None:
    """A return URL with every `__SESSION__` replaced by the checkout session id."""
    return url.replace(SESSION_PLACEHOLDER, session_id) if url else url


def start(store: Store, now: datetime, paywall: Paywall, req: CheckoutRequest, *, email: str | None,
          bearer_user: User | None, origin: str, hosted: bool, idempotency_key: str | None,
          fingerprint: str) -> CheckoutSession:
    """Create a checkout session, or for a repeated `Idempotency-Key` the one answered first (as it was
    then), which the caller renders again.

    Everything is checked before anything is written: a refused request leaves no user, link or
    session behind. The Bearer's user wins over the body's e-mail (anti-spoofing).
    """
    scope = f"startCheckout:{paywall.id}"
    replay = idempotent_replay(store, now, scope, idempotency_key, fingerprint)
    if replay is not None:
        return replay
    if bearer_user is None and not email:  # the e-mail is required on every path but the Bearer's
        raise BadRequestError("Missing required parameters: email, priceId", code="missing_parameters",
                              error="Missing required parameters: email, priceId")
    price = find_price(store, paywall, req.price_id)
    user = bearer_user or store.user_by_email(str(email))
    if user is not None and not req.ignore_active_purchase and has_access(store, paywall, user):
        raise ConflictError("User already has an active purchase", code="already_purchased",
                            error="User already has an active purchase", hasActivePurchase=True)
    user = user or find_or_create_user(store, now, email=str(email))
    link = ensure_link(store, now, user, paywall, req.user_meta)
    acquirer = acquirer_for(paywall.acquirer)
    trial = req.trial_days if req.trial_days is not None else price.trial_days
    if link.had_trial or price.is_lifetime:
        trial = None
    session_id = acquirer.session_id(store.ids, paywall)
    email = user.email or ""
    if hosted:
        params = acquirer.hosted_query(paywall, email, price)
        url = f"{origin}/_emulator/checkout/{session_id}" + (f"?{urlencode(params)}" if params else "")
    else:
        url = acquirer.checkout_url(paywall, session_id, email, price)
    # 002: both return URLs default to the paywall's success_redirect_url; a cancelled or failed buyer
    # goes back to the shop page the caller named first (the SDK's e2e runs expect the page they came from).
    default = paywall.success_redirect_url
    session = CheckoutSession(
        id=session_id, paywall_id=paywall.id, user_id=user.id, price_id=price.id, acquirer=paywall.acquirer,
        url=url,
        success_url=with_session(req.success_url or default or f"{origin}/paywall/{paywall.id}/checkout/success",
                                 session_id),
        error_url=with_session(req.error_url or req.shop_url or default
                               or f"{origin}/paywall/{paywall.id}/checkout/error", session_id),
        shop_url=req.shop_url or paywall.checkout_shop_url, trial_days=trial or None,
        ignore_active_purchase=req.ignore_active_purchase,
        offer_id=(offer.id if (offer := applicable_offer(store, now, paywall, price, req.offer_id)) else None),
        meta=dict(req.attribution or {}), created_at=now,
    )
    store.add_checkout(session)
    if idempotency_key:
        remember(store, now, IdempotencyRecord(key=idempotency_key, scope=scope, fingerprint=fingerprint,
                                               checkout=copy.copy(session), created_at=now))
    return session


def trial_end(now: datetime, days: int) -> datetime:
    return now + timedelta(days=days)


def first_period_end(now: datetime, price: Price) -> datetime:
    return add_interval(now, price.interval, price.interval_count)


def open_portal(store: Store, now: datetime, paywall: Paywall, *, email: str | None, bearer_user: User | None,
                user_meta: dict[str, Any] | None, origin: str, hosted: bool,
                return_url: str | None) -> PortalSession:
    """A portal session for the user. Like the legacy endpoint, an unknown e-mail is created and
    linked (then refused with 403 when it has nothing to manage)."""
    acquirer = acquirer_for(paywall.acquirer)
    is_test = "1" if paywall.test_mode else "0"
    if not acquirer.has_portal:
        raise ForbiddenError(f"{paywall.acquirer} has no hosted customer portal; cancel through the API",
                             code="forbidden", error="forbidden", isTest=is_test)
    if bearer_user is None and not email:
        raise BadRequestError("Email is required", code="email_required", error="Email is required")
    user = bearer_user or find_or_create_user(store, now, email=str(email))
    ensure_link(store, now, user, paywall, user_meta)
    if not any(s.is_active for s in store.subscriptions_of(user.id, paywall.id)):
        raise ForbiddenError("The user has no active subscription to manage", code="forbidden",
                             error="forbidden", isTest=is_test)
    if hosted:
        session_id = f"ps_{store.ids.alnum(24)}"
        url = f"{origin}/_emulator/portal/{session_id}"
    else:
        url = acquirer.portal_url(store.ids, paywall)
        session_id = url.rsplit("/", 1)[-1]
    fallback = paywall.checkout_shop_url or f"{origin}/paywall/{paywall.id}/customer-portal/return"
    session = PortalSession(id=session_id, paywall_id=paywall.id, user_id=user.id, url=url,
                            return_url=return_url or fallback, created_at=now)
    store.portal_sessions[session.id] = session
    return session
