"""Handler of subscription cancellation (`/api/paywall/cancel-subscription`, paywall id in the body)."""

from __future__ import annotations

from ....engine.routing import Call, Reply, operation
from ..auth import caller, require_paywall
from ..domain.identity import require_identity, require_linked_user
from ..domain.subscriptions import cancel_at_period_end, find_for_session
from ..errors import IdentityRequiredError
from ..models import Paywall, User
from ..views import render_cancelled


@operation("cancelSubscription")
async def cancel_subscription(call: Call) -> Reply:
    store, body, user = call.state, call.body, caller(call).bearer_user
    subscription_id = str(body["subscriptionId"])
    if user is None:  # apiKey path: the paywall and the identity come from the body
        paywall, user = _owner_target(call)
    else:  # Bearer path: the session's user must own the subscription; body identity is ignored
        paywall = store.paywalls[find_for_session(store, user, subscription_id).paywall_id]
    sub = cancel_at_period_end(store, call.world.now(), paywall, user, subscription_id,
                               str(body["cancellationReason"]))
    return Reply(body=render_cancelled(sub))


def _owner_target(call: Call) -> tuple[Paywall, User]:
    body = call.body
    email, user_id = body.get("email"), body.get("userId")
    require_identity(email, user_id)
    paywall_id = body.get("paywallId") or call.headers.get("X-Paywall-Id")
    if paywall_id is None:
        raise IdentityRequiredError("paywallId is required with X-Api-Key", error="identity_required")
    paywall = require_paywall(call.state, caller(call).principal, str(paywall_id))
    return paywall, require_linked_user(call.state, paywall, email=email, user_id=user_id)
