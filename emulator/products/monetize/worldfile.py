"""The monetize section of a world file: its format (`MonetizeWorld` in spec/monetize.control.openapi.yaml)
and its checks, and building a `Store` from it: checked once into a `SectionPlan` that builds a fresh store
on every reset. A malformed section is refused with a `WorldError` naming the offending entry, and nothing
changes. Times are relative to the instant of loading. No aiohttp.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from ...engine.ids import IdFactory, IdPosition
from ...engine.product import WorldError, WorldLoad
from ...engine.structs import struct
from ...engine.templates import Template, template
from ...engine.values import is_http_url
from .domain.accounts import password_hash
from .domain.balances import MAX_BALANCE
from .domain.lifecycle import schedule
from .domain.periods import add_interval, local_date
from .models import (
    ACQUIRERS,
    WEBHOOK_SUBSCRIPTIONS,
    AcquirerName,
    BalanceRow,
    Interval,
    Link,
    Offer,
    Owner,
    Payment,
    Paywall,
    Price,
    Provider,
    Subscription,
    SubscriptionStatus,
    TokenType,
    User,
    WebhookEndpoint,
)
from .models_auth import Account
from .state import Store

_INTERVALS = ("day", "week", "month", "year", "lifetime")
_SUB_STATUSES = ("trialing", "active", "past_due", "canceled", "incomplete", "unpaid")
MAX_DAYS = 36_525  # relative times reach at most 100 years from the instant of seeding


def load_section(section: Mapping[str, Any] | None, load: WorldLoad) -> Store:
    """A new store holding the world `section` describes (None: an empty world), as of `load.now`."""
    return plan_section(section, load)(load)


def plan_section(section: Mapping[str, Any] | None, load: WorldLoad) -> SectionPlan:
    """The world `section` checked whole as of `load.now` (as `load_section` checks it), as a plan that
    builds a new store for any later load of the same world."""
    loader = _Loader(Store(seed=load.id_seed, ids=load.ids, limits=load.limits), load.now)
    loader.load(section or {})
    store = loader.store
    try:
        static = tuple((name, tuple((key, template(value)) for key, value in getattr(store, name).items()))
                       for name in ("owners", "webhook_endpoints", "paywalls", "prices", "providers"))
    except TypeError as exc:  # a value of a kind a world file cannot hold
        raise WorldError(f"a value the emulator cannot keep: {exc}") from exc
    return SectionPlan(id_seed=load.id_seed, ids=store.ids.position(), static=static,
                     api_keys=tuple(store.api_keys.items()), steps=tuple(loader.steps))


class _Step(Protocol):
    """One entry's rows whose values depend on the instant of loading, put into a store as of `now`."""

    @property
    def entry(self) -> str: ...

    def apply(self, store: Store, now: datetime) -> None: ...


@struct(frozen=True, kw_only=True)
class SectionPlan:
    """A checked monetize section: the tables that do not depend on the instant of loading as entity
    templates, the others as steps run as of each load's `now`, and where the id factory stood after
    the ids the section drew (generated secrets, purchase ids, Freemius references)."""

    id_seed: int
    ids: IdPosition
    static: tuple[tuple[str, tuple[tuple[str, Template[Any]], ...]], ...]  # (table, ((key, row), ...))
    api_keys: tuple[tuple[str, str], ...]
    steps: tuple[_Step, ...]

    def __call__(self, load: WorldLoad) -> Store:
        if load.id_seed != self.id_seed:
            raise ValueError("a world plan builds states for the id seed it was checked with")
        store = Store(seed=self.id_seed, ids=IdFactory(self.id_seed, at=self.ids), limits=load.limits)
        for name, rows in self.static:
            table = getattr(store, name)
            for key, row in rows:
                table[key] = row.make()
        store.api_keys = dict(self.api_keys)
        step: _Step | None = None
        try:
            for step in self.steps:
                step.apply(store, load.now)
        except (AttributeError, KeyError, TypeError, ValueError, OverflowError) as exc:
            raise WorldError(f"{step.entry if step else ''}: malformed entry ({type(exc).__name__}: {exc})") from exc
        store.reindex()  # the plan fills the tables directly
        return store


@struct(frozen=True, kw_only=True)
class _OfferStep:
    entry: str
    offer: Template[Offer]
    expires_in_days: float | None

    def apply(self, store: Store, now: datetime) -> None:
        offer = self.offer.make()
        offer.expires_at = now + timedelta(days=self.expires_in_days) if self.expires_in_days is not None else None
        store.offers[offer.id] = offer


@struct(frozen=True, kw_only=True)
class _UserStep:
    """A user and their account, created `days_ago`."""

    entry: str
    user: Template[User]
    account: Template[Account] | None
    days_ago: float

    def apply(self, store: Store, now: datetime) -> None:
        user = store.add_user(self.user.make())
        user.created_at = now - timedelta(days=self.days_ago)
        if self.account is not None:
            account = store.auth.accounts[user.id] = self.account.make()
            account.created_at = user.created_at


@struct(frozen=True, kw_only=True)
class _LinkStep:
    """A user's link to a paywall (made when the user was created) and its balance rows, topped up today
    in the paywall's time zone."""

    entry: str
    link: Template[Link]
    days_ago: float
    balances: tuple[Template[BalanceRow], ...]
    timezone: str

    def apply(self, store: Store, now: datetime) -> None:
        link = self.link.make()
        link.linked_at = now - timedelta(days=self.days_ago)
        store.links[(link.user_id, link.paywall_id)] = link
        today = local_date(now, self.timezone).isoformat() if self.balances else None
        for template_row in self.balances:
            row = template_row.make()
            row.topped_up_on = today
            store.balances[(row.user_id, row.paywall_id, row.type)] = row


@struct(frozen=True, kw_only=True)
class _PurchaseStep:
    """A lifetime payment, or a subscription in its current period with the payment of that period."""

    entry: str
    where: str
    started_days_ago: float | None  # or started at `started_at`
    started_at: datetime | None
    payment: Template[Payment]
    subscription: Template[Subscription] | None
    interval: Interval | None
    interval_count: int | None

    def apply(self, store: Store, now: datetime) -> None:
        if self.started_at is not None:
            started = _within_range(self.started_at, now, self.where)
        else:
            started = now - timedelta(days=self.started_days_ago or 0)
        payment = self.payment.make()
        payment.created = started
        if self.subscription is not None:
            sub = self.subscription.make()
            period_start = started
            while (end := add_interval(period_start, self.interval, self.interval_count)) <= now:
                period_start = end
            sub.created, sub.current_period_start, sub.current_period_end = started, period_start, end
            if sub.cancel_at_period_end:
                sub.cancel_at = end
            if sub.status == "canceled":
                sub.ended_at = sub.canceled_at = period_start
            store.subscriptions[sub.id] = sub
            schedule(store, sub)
            payment.created = period_start
        store.payments[payment.id] = payment


def _within_range(started: datetime, now: datetime, where: str) -> datetime:
    if started > now or now - started > timedelta(days=MAX_DAYS):
        raise WorldError(f"{where}: started_at must lie within the {MAX_DAYS} days before now")
    return started


class _Loader:
    def __init__(self, store: Store, now: datetime) -> None:
        self.store = store
        self.now = now
        self.steps: list[_Step] = []
        self.entry = ""

    def _apply(self, step: _Step) -> None:
        """Keep `step` for the plan and fill the store being checked with it (later entries are checked
        against it)."""
        self.steps.append(step)
        step.apply(self.store, self.now)

    def load(self, doc: Mapping[str, Any]) -> None:
        unknown = sorted(set(doc) - {"owners", "paywalls", "users"})
        if unknown:
            raise WorldError(f"{unknown[0]}: unknown key in the monetize section (it has owners, paywalls, users)")
        for i, raw in enumerate(_list(doc, "owners")):
            with _entry(f"owners[{i}]"):
                self._owner(_map(raw, f"owners[{i}]"), f"owners[{i}]")
        for i, raw in enumerate(_list(doc, "paywalls")):
            self.entry = f"paywalls[{i}]"
            with _entry(f"paywalls[{i}]"):
                self._paywall(_map(raw, f"paywalls[{i}]"), f"paywalls[{i}]")
        for i, raw in enumerate(_list(doc, "users")):
            self.entry = f"users[{i}]"
            with _entry(f"users[{i}]"):
                self._user(_map(raw, f"users[{i}]"), f"users[{i}]")

    def _owner(self, raw: Mapping[str, Any], where: str) -> None:
        owner = Owner(id=_str(raw, "id", where), name=str(raw.get("name", "")), api_keys=[])
        if owner.id in self.store.owners:
            raise WorldError(f"{where}: duplicate owner id {owner.id!r}")
        for key in raw.get("api_keys") or []:
            if not isinstance(key, str) or not key.startswith("sk_"):
                raise WorldError(f"{where}: api keys look like 'sk_...', got {key!r}")
            if key in self.store.api_keys:
                raise WorldError(f"{where}: api key {key!r} belongs to two owners")
            owner.api_keys.append(key)
            self.store.api_keys[key] = owner.id
        self.store.owners[owner.id] = owner
        for j, hook in enumerate(raw.get("webhooks") or []):
            hw = f"{where}.webhooks[{j}]"
            hook = _map(hook, hw)
            endpoint = WebhookEndpoint(
                id=f"we_{owner.id}_{j + 1}",
                owner_id=owner.id,
                url=_url(hook, "url", hw, required=True) or "",
                secret=str(hook.get("secret") or f"whsec_{self.store.ids.alnum(24)}"),
                events=_event_subscriptions(hook.get("events"), f"{hw}.events"),
            )
            self.store.webhook_endpoints[endpoint.id] = endpoint

    def _paywall(self, raw: Mapping[str, Any], where: str) -> None:
        pid = _str(raw, "id", where)
        owner = _str(raw, "owner", where)
        if owner not in self.store.owners:
            raise WorldError(f"{where}: unknown owner {owner!r}")
        if pid in self.store.paywalls:
            raise WorldError(f"{where}: duplicate paywall id {pid!r}")
        acquirer = cast(AcquirerName, _str(raw, "acquirer", where))
        if acquirer not in ACQUIRERS:
            raise WorldError(f"{where}: acquirer must be one of {list(ACQUIRERS)}, got {acquirer!r}")
        tz = str(raw.get("timezone") or "UTC")
        try:
            local_date(self.now, tz)
        except Exception as exc:
            raise WorldError(f"{where}: unknown timezone {tz!r}") from exc
        token_types = [
            TokenType(
                type=_str(t, "type", f"{where}.tokenization.types[{k}]"),
                name=str(t.get("name") or t["type"]),
                description=str(t.get("description") or ""),
                monthly=_int(t, "monthly", 0, where),
                daily_trial=_int(t, "daily_trial", 0, where),
            )
            for k, t in enumerate(_list(raw.get("tokenization") or {}, "types"))
        ]
        paywall = Paywall(
            id=pid,
            owner_id=owner,
            name=str(raw.get("name") or f"Paywall {pid}"),
            acquirer=acquirer,
            test_mode=bool(raw.get("test_mode", True)),
            timezone=tz,
            success_redirect_url=_url(raw, "success_redirect_url", where),
            checkout_shop_url=_url(raw, "checkout_shop_url", where),
            checkout_product_name=raw.get("checkout_product_name"),
            settings=dict(raw.get("settings") or {}),
            layout=raw.get("layout"),
            locales=raw.get("locales"),
            token_types=token_types,
            acquirer_ref=str(raw.get("acquirer_ref") or self.store.ids.digits(5)),
            email_confirmation=_email_confirmation(raw, where),
        )
        self.store.paywalls[pid] = paywall
        for k, p in enumerate(_list(raw, "prices")):
            self._price(_map(p, f"{where}.prices[{k}]"), pid, f"{where}.prices[{k}]")
        for k, o in enumerate(_list(raw, "offers")):
            ow = f"{where}.offers[{k}]"
            o = _map(o, ow)
            expires = _days(o, "expires_in_days", None, ow, lowest=-MAX_DAYS)
            offer = Offer(
                id=_str(o, "id", ow),
                paywall_id=pid,
                discount_percent=o.get("discount_percent"),
                expires_at=self.now + timedelta(days=expires) if expires is not None else None,
                duration_minutes=o.get("duration_minutes"),
                price_id=str(o["price_id"]) if o.get("price_id") is not None else None,
                label=o.get("label"),
            )
            self._apply(_OfferStep(entry=self.entry, offer=template(offer), expires_in_days=expires))
        for k, pr in enumerate(_list(raw, "providers")):
            pw = f"{where}.providers[{k}]"
            pr = _map(pr, pw)
            ptype = _str(pr, "type", pw)
            if paywall.token_type(ptype) is None:
                raise WorldError(f"{pw}: type {ptype!r} is not a token type of paywall {pid}")
            upstream = str(pr.get("upstream") or "fake")
            if upstream != "fake" and not upstream.startswith(("http://", "https://")):
                raise WorldError(f"{pw}: upstream must be 'fake' or an http(s) URL, got {upstream!r}")
            provider = Provider(
                id=_str(pr, "id", pw),
                paywall_id=pid,
                type=ptype,
                cost=_int(pr, "cost", 1, pw),
                upstream=upstream,
                headers={str(k2): str(v) for k2, v in (pr.get("headers") or {}).items()},
                enabled=bool(pr.get("enabled", True)),
                fake=_fake_options(pr.get("fake"), f"{pw}.fake"),
            )
            if provider.id in self.store.providers:
                raise WorldError(f"{pw}: duplicate provider id {provider.id!r}")
            self.store.providers[provider.id] = provider

    def _price(self, raw: Mapping[str, Any], paywall_id: str, where: str) -> None:
        pid = _str(raw, "id", where)
        if pid in self.store.prices:
            raise WorldError(f"{where}: duplicate price id {pid!r}")
        interval = raw.get("interval")
        if interval is not None and interval not in _INTERVALS:
            raise WorldError(f"{where}: interval must be one of {list(_INTERVALS)}")
        local = raw.get("local") or {}
        amount = raw.get("amount")
        if not isinstance(amount, int | float) or isinstance(amount, bool) or amount < 0:
            raise WorldError(f"{where}: amount must be a non-negative number")
        count = raw.get("interval_count")
        if interval not in (None, "lifetime") and count is not None and (
                not isinstance(count, int) or isinstance(count, bool) or count < 1):
            raise WorldError(f"{where}: interval_count must be a positive integer")
        trial = raw.get("trial_days")
        if trial is not None and (not isinstance(trial, int) or isinstance(trial, bool) or not 0 <= trial <= 730):
            raise WorldError(f"{where}: trial_days must be an integer from 0 to 730, or null")
        self.store.prices[pid] = Price(
            id=pid,
            paywall_id=paywall_id,
            currency=str(raw.get("currency") or "USD").upper(),
            amount=float(amount),
            interval=cast("Interval | None", interval),
            interval_count=None if interval in (None, "lifetime") else (count or 1),
            trial_days=trial,
            label=raw.get("label"),
            description=raw.get("description"),
            local_currency=local.get("currency"),
            local_amount=local.get("amount"),
            active=bool(raw.get("active", True)),
        )

    def _user(self, raw: Mapping[str, Any], where: str) -> None:
        uid = _str(raw, "id", where)
        email = raw.get("email")
        if uid in self.store.users or (email and self.store.user_by_email(email)):
            raise WorldError(f"{where}: duplicate user {uid!r}/{email!r}")
        days_ago = _days(raw, "created_days_ago", 30, where)
        created = self.now - timedelta(days=days_ago)
        user = User(id=uid, email=email, name=raw.get("name"), created_at=created,
                    country=str(raw.get("country") or "US"))
        account = None
        if raw.get("password") is not None:
            password = raw["password"]
            if not isinstance(password, str) or not email:
                raise WorldError(f"{where}: password must be a string, on a user with an email")
            account = template(Account(user_id=uid, password_hash=password_hash(uid, password), confirmed=True,
                                       created_at=created))
        self._apply(_UserStep(entry=self.entry, user=template(user), account=account, days_ago=days_ago))
        for k, link_raw in enumerate(_list(raw, "paywalls")):
            lw = f"{where}.paywalls[{k}]"
            link_raw = _map(link_raw, lw)
            pid = str(link_raw.get("paywall"))
            paywall = self.store.paywalls.get(pid)
            if paywall is None:
                raise WorldError(f"{lw}: unknown paywall {pid!r}")
            if (uid, pid) in self.store.links:
                raise WorldError(f"{lw}: user {uid!r} is linked twice to paywall {pid!r}")
            link = Link(user_id=uid, paywall_id=pid, linked_at=created, meta=dict(link_raw.get("meta") or {}))
            given = _map(link_raw.get("balances") or {}, f"{lw}.balances")
            rows = []
            for ttype in paywall.token_types:
                count = _int(given, ttype.type, ttype.daily_trial, f"{lw}.balances")
                if count > MAX_BALANCE:
                    raise WorldError(f"{lw}.balances: {ttype.type!r} must be at most {MAX_BALANCE}")
                rows.append(template(BalanceRow(user_id=uid, paywall_id=pid, type=ttype.type, count=count)))
            for name in set(given) - {t.type for t in paywall.token_types}:
                raise WorldError(f"{lw}: balance type {name!r} is not a token type of paywall {pid}")
            self._apply(_LinkStep(entry=self.entry, link=template(link), days_ago=days_ago, balances=tuple(rows),
                                  timezone=paywall.timezone))
            for j, purchase in enumerate(_list(link_raw, "purchases")):
                self._purchase(_map(purchase, f"{lw}.purchases[{j}]"), uid, paywall, f"{lw}.purchases[{j}]")

    def _purchase(self, raw: Mapping[str, Any], user_id: str, paywall: Paywall, where: str) -> None:
        price = self.store.prices.get(str(raw.get("price")))
        if price is None or price.paywall_id != paywall.id:
            raise WorldError(f"{where}: price {raw.get('price')!r} is not a price of paywall {paywall.id}")
        started_at, days_ago = self._started(raw, where)
        started = started_at or self.now - timedelta(days=days_ago or 0)  # the step sets it as of each load
        status = str(raw.get("status") or "active")
        pid = str(raw.get("id") or self.store.ids.prefixed("sub_"))
        if pid in self.store.subscriptions or pid in self.store.payments:
            raise WorldError(f"{where}: duplicate purchase id {pid!r}")
        if price.is_lifetime:
            if status not in ("paid", "refunded"):
                raise WorldError(f"{where}: a lifetime purchase is 'paid' or 'refunded'")
            lifetime = Payment(
                id=pid, paywall_id=paywall.id, user_id=user_id, price_id=price.id, amount=price.unit_amount,
                currency=price.currency, status="succeeded" if status == "paid" else "refunded",
                created=started, refunded_amount=price.unit_amount if status == "refunded" else 0,
            )
            self._apply(_PurchaseStep(entry=self.entry, where=where, started_days_ago=days_ago, started_at=started_at,
                                      payment=template(lifetime), subscription=None, interval=price.interval,
                                      interval_count=price.interval_count))
            return
        if status not in _SUB_STATUSES:
            raise WorldError(f"{where}: subscription status must be one of {list(_SUB_STATUSES)}")
        # Its instants (and the payment's) are the step's to set, as of each load.
        sub = Subscription(id=pid, paywall_id=paywall.id, user_id=user_id, price_id=price.id,
                           status=cast(SubscriptionStatus, status), created=started, current_period_start=started,
                           current_period_end=started)
        if raw.get("cancel_at_period_end"):
            sub.cancel_at_period_end = True
            sub.cancellation_reason = str(raw.get("cancellation_reason") or "seeded")
        pay_id = f"pi_{pid.removeprefix('sub_')}"[:40]
        payment = Payment(id=pay_id, paywall_id=paywall.id, user_id=user_id, price_id=price.id,
                          amount=price.unit_amount, currency=price.currency, status="succeeded", created=started,
                          subscription_id=sub.id)
        self._apply(_PurchaseStep(entry=self.entry, where=where, started_days_ago=days_ago, started_at=started_at,
                                  payment=template(payment), subscription=template(sub), interval=price.interval,
                                  interval_count=price.interval_count))

    def _started(self, raw: Mapping[str, Any], where: str) -> tuple[datetime | None, float | None]:
        """When a purchase started: `started_at` (ISO 8601; the first item), else `started_days_ago`
        before now (the second)."""
        at = raw.get("started_at")
        if at is None:
            return None, _days(raw, "started_days_ago", 0, where)
        try:
            started = datetime.fromisoformat(str(at).replace("Z", "+00:00"))
        except ValueError as exc:
            raise WorldError(f"{where}: started_at must be an ISO 8601 date-time, got {at!r}") from exc
        if started.tzinfo is None:
            raise WorldError(f"{where}: started_at needs a UTC offset, got {at!r}")
        return _within_range(started, self.now, where), None


@contextmanager
def _entry(where: str) -> Iterator[None]:
    """Turn a malformed value deep inside one seed entry into a `SeedError` naming the entry."""
    try:
        yield
    except (AttributeError, KeyError, TypeError, ValueError, OverflowError) as exc:
        raise WorldError(f"{where}: malformed entry ({type(exc).__name__}: {exc})") from exc


def _days(raw: Mapping[str, Any], key: str, default: float | None, where: str, *,
          lowest: float = 0) -> Any:
    """A relative time in days, within [lowest, MAX_DAYS] (None when absent without a default)."""
    value = raw.get(key, default)
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool) or not lowest <= value <= MAX_DAYS:
        raise WorldError(f"{where}: {key!r} must be a number of days from {lowest:g} to {MAX_DAYS}")
    return float(value)


def _fake_options(raw: Any, where: str) -> dict[str, Any]:
    """The fake upstream's options: latency_ms, chunk_delay_ms, fail_status (400-599), fail_connection,
    break_after_chunks, stall_after_chunks (0 or more)."""
    options = dict(_map(raw or {}, where))
    unknown = set(options) - {"latency_ms", "chunk_delay_ms", "fail_status", "fail_connection",
                              "break_after_chunks", "stall_after_chunks"}
    if unknown:
        raise WorldError(f"{where}: unknown options {sorted(unknown)}")
    for key in ("latency_ms", "chunk_delay_ms"):
        _int(options, key, 0, where)
    for key in ("break_after_chunks", "stall_after_chunks"):
        if options.get(key) is not None:
            _int(options, key, 0, where)
    status = options.get("fail_status")
    if status is not None and (not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599):
        raise WorldError(f"{where}: 'fail_status' must be an HTTP status from 400 to 599")
    if not isinstance(options.get("fail_connection", False), bool):
        raise WorldError(f"{where}: 'fail_connection' must be a boolean")
    return options


def _event_subscriptions(raw: Any, where: str) -> list[str] | None:
    """An endpoint's `events`: absent or null (every type) or event types and wildcards (`*`,
    `subscription.*`); an empty list is refused, as the control API refuses it."""
    if raw is None:
        return None
    if not isinstance(raw, list) or not raw or any(e not in WEBHOOK_SUBSCRIPTIONS for e in raw):
        allowed = ", ".join(sorted(WEBHOOK_SUBSCRIPTIONS))
        raise WorldError(f"{where}: a non-empty list of event types or wildcards ({allowed}), got {raw!r}")
    return list(dict.fromkeys(raw))


def _email_confirmation(raw: Mapping[str, Any], where: str) -> bool:
    auth = _map(raw.get("auth") or {}, f"{where}.auth")
    unknown = set(auth) - {"email_confirmation"}
    if unknown:
        raise WorldError(f"{where}.auth: unknown keys {sorted(unknown)}")
    value = auth.get("email_confirmation", True)
    if not isinstance(value, bool):
        raise WorldError(f"{where}.auth.email_confirmation must be true or false")
    return value


def _list(raw: Mapping[str, Any], key: str) -> list[Any]:
    value = raw.get(key) or []
    if not isinstance(value, list):
        raise WorldError(f"{key!r} must be a list")
    return value


def _map(raw: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise WorldError(f"{where} must be a mapping")
    return raw


def _str(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise WorldError(f"{where}: {key!r} is required")
    return str(value)


def _url(raw: Mapping[str, Any], key: str, where: str, *, required: bool = False) -> str | None:
    """An http(s) URL (it ends up in redirects and on pages as a link), or None when absent and optional."""
    value = raw.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not is_http_url(value):
        raise WorldError(f"{where}: {key!r} must be an absolute http(s) URL without spaces or control "
                         f"characters, got {value!r}")
    return value


def _int(raw: Mapping[str, Any], key: str, default: int, where: str) -> int:
    value = raw.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise WorldError(f"{where}: {key!r} must be a non-negative integer")
    return value
