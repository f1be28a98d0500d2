"""Handler of subscription cancellation (`/api/paywall/cancel-subscription`, paywall id in the body)."""

from __future__ import annotations

from ..auth import require_paywall
from ..domain.identity import require_identity, require_linked_user
from ..domain.subscriptions import cancel_at_period_end
from ..errors import IdentityRequiredError
from ..routing import Call, Reply, operation
from ..views import render_cancelled


@operation("cancelSubscription")
async def cancel_subscription(call: Call) -> Reply:
    store, body = call.store, call.body
    paywall_id = body.get("paywallId") or call.headers.get("X-Paywall-Id")
    user = call.bearer_user
    if user is None:  # apiKey path: the paywall and the identity come from the body
        email, user_id = body.get("email"), body.get("userId")
        require_identity(email, user_id)
        if paywall_id is None:
            raise IdentityRequiredError("paywallId is required with X-Api-Key", error="identity_required")
        paywall = require_paywall(store, call.principal, str(paywall_id))
        user = require_linked_user(store, paywall, email=email, user_id=user_id)
    else:
        sub = store.subscriptions.get(str(body.get("subscriptionId")))
        paywall_id = paywall_id or (sub.paywall_id if sub else None)
        paywall = require_paywall(store, call.principal, str(paywall_id or ""))
    sub = cancel_at_period_end(store, call.world.now(), paywall, user, str(body["subscriptionId"]),
                               str(body["cancellationReason"]))
    return Reply(body=render_cancelled(sub))
