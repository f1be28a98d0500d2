"""Handlers of the control API under `/_emulator`: reset, seed, state, clock, tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ..auth import mint_token
from ..clock import ClockBackwardsError
from ..domain import balances
from ..domain.identity import ensure_link, find_or_create_user, find_user
from ..errors import BadRequestError, ConflictError, IdentityNotFoundError, NotFoundError
from ..routing import Call, Reply, operation
from ..views import iso, render_state

MAX_JUMP = timedelta(days=36525)  # one clock move at most (advanceClock's schema says the same)
# Far enough from datetime's year 9999 that every due-time sum (a year's period, 24 h expiries) still fits.
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def _within_reach(call: Call, target: datetime) -> datetime:
    if target > call.world.now() + MAX_JUMP or target >= LATEST:
        raise BadRequestError(f"the clock moves at most {MAX_JUMP.days} days (100 years) at a time and stays "
                              f"before {LATEST.year}", code="invalid_request")
    return target


@operation("getHealth")
async def get_health(call: Call) -> Reply:
    from .. import __version__

    return Reply(body={"status": "ok", "version": __version__})


@operation("resetEmulator")
async def reset_emulator(call: Call) -> Reply:
    call.world.reset()
    return Reply(body={"reset": True, "now": iso(call.world.now())})


@operation("loadSeed")
async def load_seed(call: Call) -> Reply:
    call.world.load(call.body)
    store = call.store
    return Reply(body={"loaded": True, "owners": len(store.owners), "paywalls": len(store.paywalls)})


@operation("dumpState")
async def dump_state(call: Call) -> Reply:
    balances.top_up_all(call.store, call.world.now())  # show balances as a read would (lazy top-ups)
    return Reply(body=render_state(call.store))


@operation("getClock")
async def get_clock(call: Call) -> Reply:
    return Reply(body=_clock(call))


@operation("setClock")
async def set_clock(call: Call) -> Reply:
    target = _within_reach(call, _parse_time(str(call.body["now"])))
    try:
        if target < call.world.now():
            raise ClockBackwardsError(f"cannot move the clock back to {target.isoformat()}")
        await call.world.catch_up(target, background=True)
        call.world.clock.set(target, freeze=bool(call.body.get("frozen", True)))
    except ClockBackwardsError as exc:
        raise ConflictError(str(exc), code="clock_backwards", error="clock_backwards") from exc
    return Reply(body=_clock(call))


@operation("advanceClock")
async def advance_clock(call: Call) -> Reply:
    body = call.body
    seconds = float(body.get("seconds") or 0) + 86400 * float(body.get("days") or 0)
    if "seconds" not in body and "days" not in body:
        raise BadRequestError("give seconds or days to advance by", code="invalid_request")
    previous = call.world.now()
    target = _within_reach(call, previous + timedelta(seconds=seconds))
    events_before = len(call.store.events)
    transitions = await call.world.catch_up(target, background=True)
    clock = call.world.clock
    if clock.frozen:
        clock.set(target)
    else:  # a running clock keeps moving between any read and a `set`: shift it by what is left instead
        clock.advance(max(target - clock.now(), timedelta(0)))
    return Reply(body={"now": iso(call.world.now()), "previous": iso(previous), "transitions": transitions,
                       "events": [{"id": e.id, "type": e.type, "created_at": iso(e.created_at)}
                                  for e in call.store.events[events_before:]]})


@operation("mintToken")
async def mint(call: Call) -> Reply:
    store, now, body = call.store, call.world.now(), call.body
    paywall = store.paywalls.get(str(body["paywall_id"]))
    if paywall is None:
        raise NotFoundError(f"paywall {body['paywall_id']!r} not found")
    email, user_id = body.get("email"), body.get("user_id")
    try:
        user = find_user(store, paywall, email=email, user_id=user_id)
    except IdentityNotFoundError as exc:  # the control API speaks only `not_found`
        raise NotFoundError(exc.message, code="not_found") from exc
    if user is None:
        if not email:
            raise NotFoundError(f"no user {user_id!r}; give an email to create one", code="not_found")
        user = find_or_create_user(store, now, email=email)
    ensure_link(store, now, user, paywall)
    token = mint_token(store, now, user)
    return Reply(body={"access_token": token.token, "token_type": "bearer",
                       "expires_in": int((token.expires_at - now).total_seconds()),
                       "user": {"id": user.id, "email": user.email}})


def _clock(call: Call) -> dict[str, object]:
    return {"now": iso(call.world.now()), "frozen": call.world.clock.frozen}


def _parse_time(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadRequestError(f"now must be an ISO-8601 date-time, got {value!r}", code="invalid_request") from exc
