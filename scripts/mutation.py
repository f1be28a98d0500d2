"""Mutation testing of the contract suite: apply one single-point bug at a time to a copy of `emulator/`,
run `paywall-emulator conform` against each mutant in parallel workers within a time budget, and print
the kill ratio and the survivors. A mutant is killed when conform exits non-zero (a failing test, or an
emulator that no longer starts); it survives when every test passes.

    python scripts/mutation.py                      # every mutant, 2 workers, 40 min budget
    python scripts/mutation.py --sample 5 --workers 2 --budget 120
    python scripts/mutation.py --only lifecycle-retry-2d --keep   # keep the mutated copy to inspect

Each mutant runs in its own copy of the package (emulator/, contract_tests/, spec/, fixtures/), imported
under the installed name through an import hook, so the checkout itself is never modified.
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
M = "emulator/products/monetize"
D = f"{M}/domain"
PK = "emulator/products/paykit/domain"
PA = "emulator/products/paywalls_ai/domain"


@dataclass(frozen=True, slots=True)
class Mutant:
    id: str
    path: str  # relative to the repository
    old: str  # must occur exactly once in the file
    new: str
    what: str
    product: str = "monetize"  # whose suite `conform --product` runs against it


MUTANTS: tuple[Mutant, ...] = (
    # domain/lifecycle.py: periods, retries, trials, offers, expiry
    Mutant("lifecycle-retry-2d", f"{D}/lifecycle.py", "RENEWAL_RETRY_AFTER = timedelta(days=3)",
           "RENEWAL_RETRY_AFTER = timedelta(days=2)", "a failed renewal is retried after 2 days, not 3"),
    Mutant("lifecycle-expiry-25h", f"{D}/lifecycle.py", "CHECKOUT_LIFETIME = timedelta(hours=24)",
           "CHECKOUT_LIFETIME = timedelta(hours=25)", "open checkouts expire after 25 h"),
    Mutant("lifecycle-second-trial", f"{D}/lifecycle.py",
           "trial_days = session.trial_days if session.trial_days and not (link and link.had_trial) else None",
           "trial_days = session.trial_days if session.trial_days else None",
           "a user who had a trial gets another one at payment time"),
    Mutant("lifecycle-discount-inverted", f"{D}/lifecycle.py",
           "amount = round(price.unit_amount * (100 - discount) / 100) if discount else price.unit_amount",
           "amount = round(price.unit_amount * discount / 100) if discount else price.unit_amount",
           "an offer charges its percentage instead of taking it off"),
    Mutant("lifecycle-offer-every-renewal", f"{D}/lifecycle.py",
           "    if checkout is not None and checkout.payment_id is not None:\n        checkout = None\n", "",
           "renewals keep the first charge's offer"),
    Mutant("lifecycle-period-from-at", f"{D}/lifecycle.py",
           "sub.current_period_end = add_interval(period_start, price.interval, price.interval_count)",
           "sub.current_period_end = add_interval(at + timedelta(seconds=1), price.interval, price.interval_count)",
           "a renewed period is measured from a second after the charge, not the period start"),
    Mutant("lifecycle-no-past-due", f"{D}/lifecycle.py", '        sub.status = "past_due"\n',
           '        sub.status = "active"\n', "a failed renewal leaves the subscription active"),
    Mutant("lifecycle-renewal-kind", f"{D}/lifecycle.py",
           'kind = "subscription.trial_ended" if was == "trialing" else "subscription.renewed"',
           'kind = "subscription.renewed"', "a trial end is reported as a renewal"),
    Mutant("lifecycle-no-updated-on-renewal", f"{D}/lifecycle.py",
           "         payment=payment, subscription=sub)\n    emit_subscription_updated(store, at, sub)\n"
           "    grant_for_payment(", "         payment=payment, subscription=sub)\n    grant_for_payment(",
           "a paid renewal emits no subscription.updated"),
    Mutant("lifecycle-no-grant-on-renewal", f"{D}/lifecycle.py",
           "    grant_for_payment(store, at, paywall, user.id, price.interval)\n    kind =", "    kind =",
           "renewals grant no tokens"),
    Mutant("lifecycle-decline-email-ignored", f"{D}/lifecycle.py",
           '    if email_effect(user.email) == "decline":', '    if email_effect(user.email) == "declined":',
           "the decline@ magic e-mail pays"),
    # domain/subscriptions.py: refunds, cancels, renew now
    Mutant("refund-partial-is-full", f"{D}/subscriptions.py",
           "if payment.refunded_amount >= payment.amount:", "if payment.refunded_amount >= 1:",
           "any refund counts as full"),
    Mutant("refund-over-remaining", f"{D}/subscriptions.py", "if amount < 1 or amount > remaining:",
           "if amount < 1 or amount > remaining + 1:", "a refund may exceed what is left by 1"),
    Mutant("cancel-twice-allowed", f"{D}/subscriptions.py",
           'if sub.cancel_at_period_end or sub.status == "canceled" or sub.ended_at is not None:',
           'if sub.status == "canceled" or sub.ended_at is not None:', "cancelling twice is accepted"),
    Mutant("cancel-other-paywall", f"{D}/subscriptions.py",
           "if sub is None or sub.user_id != user.id or sub.paywall_id != paywall.id:",
           "if sub is None or sub.user_id != user.id:", "a subscription of another paywall can be cancelled"),
    # domain/checkout.py, idempotency.py: offers, idempotency, prices, trials
    Mutant("offer-expired-applies", f"{D}/checkout.py", "and (o.expires_at is None or o.expires_at > now))",
           "and (o.expires_at is None or o.expires_at > now - timedelta(days=3650)))", "expired offers apply"),
    Mutant("offer-other-price", f"{D}/checkout.py", "o.price_id in (None, price.id)", "True",
           "an offer for another price applies"),
    Mutant("idempotency-fingerprint-ignored", f"{D}/idempotency.py", "    if record.fingerprint != fingerprint:",
           "    if False:", "a reused Idempotency-Key with another body answers the first checkout"),
    Mutant("price-inactive-buyable", f"{D}/checkout.py",
           "if price is None or price.paywall_id != paywall.id or not price.active:",
           "if price is None or price.paywall_id != paywall.id:", "a stale price can be bought"),
    Mutant("checkout-second-trial", f"{D}/checkout.py", "    if link.had_trial or price.is_lifetime:",
           "    if price.is_lifetime:", "start-checkout offers a second trial"),
    # domain/balances.py
    Mutant("balance-max-off-by-one", f"{D}/balances.py", "        if available + amount > MAX_BALANCE:",
           "        if available + amount > MAX_BALANCE - 1:", "a credit to exactly the maximum is refused"),
    Mutant("balance-debit-to-minus-one", f"{D}/balances.py", "        if row.count < amount:",
           "        if row.count + 1 < amount:", "a debit may overdraw by one"),
    Mutant("topup-lowers", f"{D}/balances.py", "        return max(row.count, ttype.daily_trial)",
           "        return ttype.daily_trial", "the daily top-up lowers balances above the allowance"),
    Mutant("grant-yearly-as-monthly", f"{D}/balances.py",
           "    return round(ttype.monthly * MONTHS_PER_INTERVAL.get(interval or \"\", 1.0))",
           "    return ttype.monthly", "a yearly payment grants one month of tokens"),
    Mutant("withdraw-overdraw", f"{D}/balances.py", "    if row.count < tokens:", "    if row.count < tokens - 1:",
           "the legacy withdraw may overdraw by one"),
    # domain/tickets.py, analytics.py
    Mutant("tickets-six-files", f"{D}/tickets.py", "MAX_FILES = 5", "MAX_FILES = 6", "six files are accepted"),
    Mutant("tickets-gif-allowed", f"{D}/tickets.py", '"image/webp"})', '"image/webp", "image/gif"})',
           "GIF files are accepted"),
    Mutant("tickets-size-limit", f"{D}/tickets.py", "MAX_FILE_BYTES = 10 * 1024 * 1024",
           "MAX_FILE_BYTES = 10 * 1024 * 1024 - 1", "a file of exactly 10 MB is refused"),
    Mutant("tickets-rate-3", f"{D}/tickets.py", "RATE_LIMIT = 2", "RATE_LIMIT = 3", "a third ticket in 24 h passes"),
    Mutant("events-101", f"{D}/analytics.py", "MAX_EVENTS_PER_BATCH = 100", "MAX_EVENTS_PER_BATCH = 101",
           "a batch of 101 events is accepted"),
    Mutant("events-beacon-visitor", f"{D}/analytics.py", 'visitor = visitor_id or batch.get("visitor_id")',
           "visitor = visitor_id", "the sendBeacon body's visitor_id is dropped"),
    # domain/gateway.py, identity.py, access.py, periods.py
    Mutant("gateway-free-charged", f"{D}/gateway.py", "amount = 0 if ttype.type == FREE_TYPE else provider.cost",
           "amount = provider.cost", "the free type is charged"),
    Mutant("gateway-no-identity-allowed", f"{D}/gateway.py",
           "    if call.bearer_user_id is None and not call.x_user_id:", "    if False:",
           "a gateway call without identity is not refused up front"),
    Mutant("identity-two-users", f"{D}/identity.py",
           "if by_id is not None and by_email is not None and by_id.id != by_email.id:", "if False:",
           "email and user_id naming two users resolve to one"),
    Mutant("access-lifetime-ignored", f"{D}/access.py",
           '    return any(p.subscription_id is None and p.status == "succeeded"',
           '    return any(p.subscription_id is None and p.status == "lifetime"',
           "a lifetime purchase grants no access"),
    Mutant("periods-week-is-6-days", f"{D}/periods.py", "        return start + timedelta(weeks=n)",
           "        return start + timedelta(days=6 * n)", "a weekly period lasts 6 days"),
    Mutant("periods-month-end-28", f"{D}/periods.py", "day = min(start.day, calendar.monthrange(year, month)[1])",
           "day = min(start.day, 28)", "a month started on the 29th to 31st ends on the 28th"),
    # domain/events.py, scheduler.py
    Mutant("events-refund-block-lost", f"{D}/events.py", "payment=copy.copy(payment), refund=copy.copy(refund))",
           "payment=copy.copy(payment), refund=None)", "refund.created events lose their refund"),
    Mutant("scheduler-no-expiry", f"{D}/scheduler.py", "        return lifecycle.next_checkout_expiry(store)",
           "        return None", "moving the clock never expires open checkouts"),
    # domain/accounts.py, locales.py, mailbox.py, oauth.py, sessions.py (sign-in)
    Mutant("accounts-short-password", f"{D}/accounts.py", "MIN_PASSWORD = 6", "MIN_PASSWORD = 1",
           "a one-character password is strong enough"),
    Mutant("locales-default-de", f"{D}/locales.py", 'DEFAULT_LOCALE = "en"', 'DEFAULT_LOCALE = "de"',
           "a paywall without locale_default speaks German"),
    Mutant("mailbox-no-resend-limit", f"{D}/mailbox.py", "RESEND_INTERVAL = timedelta(minutes=1)",
           "RESEND_INTERVAL = timedelta(0)", "confirmation e-mails are never rate limited"),
    Mutant("oauth-code-lives-long", f"{D}/oauth.py", "CODE_TTL = timedelta(minutes=5)",
           "CODE_TTL = timedelta(days=5)", "an OAuth code lives 5 days"),
    Mutant("sessions-token-2h", f"{D}/sessions.py", "ACCESS_TOKEN_TTL = timedelta(hours=1)",
           "ACCESS_TOKEN_TTL = timedelta(hours=2)", "a signed-in access token lives 2 h"),
    # PayKit
    Mutant("paykit-starting-credits", f"{PK}/ledger.py", "STARTING_CREDITS = 5", "STARTING_CREDITS = 6",
           "a new customer starts with 6 credits", product="paykit"),
    # (MAX_EVENT_CHARS = 65 was equivalent: the spec's maxLength 64 refuses a longer event first; so is every
    # check of check_meter, and `_whole`'s float branch: request validation hands the domain an int)
    Mutant("paykit-accounts-not-per-project", f"{PK}/ledger.py", 'key = f"{project_id}:{user_id}"', "key = user_id",
           "one user id shares one account across projects", product="paykit"),
    Mutant("paykit-session-25h", f"{PK}/billing.py", "SESSION_LIFETIME = timedelta(hours=24)",
           "SESSION_LIFETIME = timedelta(hours=25)", "checkout sessions live 25 h", product="paykit"),
    Mutant("paykit-pack-size", f"{PK}/analytics.py", "CREDIT_PACK_SIZE = 100", "CREDIT_PACK_SIZE = 10",
           "a credit pack holds 10", product="paykit"),
    Mutant("paykit-granting-without-secret", f"{PK}/keys.py", "    if not caller.secret and not caller.is_demo:",
           "    if False:", "a publishable key may grant credits", product="paykit"),
    Mutant("paykit-outbox-early", f"{PK}/outbox.py", "e.next_attempt_at <= at", "e.next_attempt_at <= at + "
           "timedelta(minutes=1)", "webhook retries go out a minute early", product="paykit"),
    Mutant("paykit-project-name-101", f"{PK}/projects.py", "MAX_NAME = 100", "MAX_NAME = 101",
           "a 101-character project name is accepted", product="paykit"),
    Mutant("paykit-webhook-wrong-event", f"{PK}/webhook.py", 'if event_type == "checkout.session.completed":',
           'if event_type == "checkout.session.expired":', "a completed Stripe checkout grants nothing",
           product="paykit"),
    # Paywalls.ai
    Mutant("paywallsai-balance-exact-refused", f"{PA}/access.py", "if available >= max(need, 1):",
           "if available > max(need, 1):", "a balance of exactly the price is refused", product="paywalls-ai"),
    Mutant("paywallsai-zero-deposit", f"{PA}/balances.py", "    if amount <= 0:", "    if amount < 0:",
           "a deposit of 0 is accepted", product="paywalls-ai"),
    # (USER_ID allowing 128 characters was equivalent: the spec's UserId maxLength 127 refuses first)
    Mutant("paywallsai-user-precedence", f"{PA}/identity.py", "    for candidate in candidates:",
           "    for candidate in reversed(candidates):", "the header's user wins over the body's",
           product="paywalls-ai"),
    # (dropping `if owed == 0: return None` was equivalent: no model of the bundled world is free)
    Mutant("paywallsai-usage-overdraws", f"{PA}/proxy.py",
           "amount = min(owed, max(balance_of(state, paywall, admission.user_id), 0))", "amount = owed",
           "usage beyond the balance drives it below zero", product="paywalls-ai"),
    Mutant("paywallsai-events-no-fanout", f"{PA}/events.py", "    webhooks.fan_out(state, event)\n", "",
           "events reach no webhook", product="paywalls-ai"),
    # (MAX_CUSTOM_HEADERS = 11 was equivalent: the spec's maxProperties 10 refuses an 11th header first)
    Mutant("paywallsai-wildcard-mixed", f"{PA}/webhooks.py", '    if "*" in events and len(events) > 1:',
           "    if False:", "'*' may be mixed with other event names", product="paywalls-ai"),
    # product modules beyond the domain
    Mutant("auth-token-ttl", f"{M}/auth.py", "TOKEN_TTL = timedelta(hours=1)", "TOKEN_TTL = timedelta(hours=2)",
           "a Bearer lives 2 h"),
    Mutant("webhook-prefix", f"{M}/webhooks.py", '"X-Monetize-Signature": f"sha256={signature}"',
           '"X-Monetize-Signature": signature', "X-Monetize-Signature lacks its sha256= prefix"),
    # Dropping the `any(s.trial_start ...)` half was equivalent: a trial always sets its link's flag.
    Mutant("views-previous-trial", f"{M}/views.py",
           '"had_previous_trial": bool(link and link.had_trial) or any(s.trial_start for s in subs)',
           '"had_previous_trial": bool(link) or any(s.trial_start for s in subs)',
           "had_previous_trial is true for every user the paywall knows"),
)

BOOT = """
import importlib.abc, importlib.util, os, sys
root = sys.argv.pop(1)
class Mutated(importlib.abc.MetaPathFinder):
    packages = {"paywall_emulator": os.path.join(root, "emulator"),
                "paywall_emulator.contract_tests": os.path.join(root, "contract_tests")}
    def find_spec(self, name, path=None, target=None):
        folder = self.packages.get(name)
        if folder is None:
            return None
        return importlib.util.spec_from_file_location(name, os.path.join(folder, "__init__.py"),
                                                      submodule_search_locations=[folder])
sys.meta_path.insert(0, Mutated())
from paywall_emulator.conform import main
sys.exit(main(sys.argv[1:]))
"""
COPY = ("emulator", "contract_tests", "spec", "fixtures")


def check(mutants: tuple[Mutant, ...] = MUTANTS) -> list[str]:
    """Problems with the catalogue: a mutant whose text is not found exactly once, or a repeated id."""
    problems = []
    ids = [m.id for m in mutants]
    problems += [f"{i}: id used twice" for i in sorted({i for i in ids if ids.count(i) > 1})]
    for m in mutants:
        count = (ROOT / m.path).read_text(encoding="utf-8").count(m.old)
        if count != 1:
            problems.append(f"{m.id}: {m.path} holds the text {count} times, not once")
    return problems


def pristine() -> Path:
    """One compiled copy of the package that every mutant copies from (bytecode included: copy2 keeps the
    sources' times, so only the mutated module compiles again)."""
    base = Path(tempfile.mkdtemp(prefix="mutant-base-"))
    for name in COPY:
        shutil.copytree(ROOT / name, base / name, ignore=shutil.ignore_patterns("__pycache__"))
    compileall.compile_dir(base / "emulator", quiet=1)
    compileall.compile_dir(base / "contract_tests", quiet=1)
    return base


def prepare(mutant: Mutant | None, where: Path, base: Path) -> None:
    for name in COPY:
        shutil.copytree(base / name, where / name)
    if mutant is not None:
        target = where / mutant.path
        text = target.read_text(encoding="utf-8")
        if text.count(mutant.old) != 1:  # never judge an unmutated copy as a survivor
            raise RuntimeError(f"{mutant.id}: the text to mutate is not in {mutant.path} exactly once")
        target.write_text(text.replace(mutant.old, mutant.new, 1), encoding="utf-8")


def run_one(mutant: Mutant | None, conform_args: list[str], timeout: float, keep: bool,
            base: Path, product: str = "monetize") -> tuple[str, float, str]:
    """('killed' | 'survived' | 'timeout', seconds, the last lines of conform's output); `product` names the
    suite of an unmutated (baseline) run."""
    product = mutant.product if mutant is not None else product
    if product != "monetize":  # its own product's suite (whole, unless --tests or --select narrow it)
        conform_args = ["--product", product, *conform_args]
    where = Path(tempfile.mkdtemp(prefix=f"mutant-{mutant.id if mutant else 'baseline'}-"))
    started = time.monotonic()
    try:
        prepare(mutant, where, base)
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("PAYWALL_")}, "PYTHONDONTWRITEBYTECODE": "1"}
        proc = subprocess.run([sys.executable, "-c", BOOT, str(where), *conform_args], capture_output=True,
                              text=True, timeout=timeout, cwd=where, env=env, check=False)
        verdict = "survived" if proc.returncode == 0 else "killed"
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-3:])
    except subprocess.TimeoutExpired:
        verdict, tail = "timeout", f"no answer within {timeout:.0f} s"
    finally:
        if not keep:
            shutil.rmtree(where, ignore_errors=True)
    return verdict, time.monotonic() - started, tail


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--budget", type=float, default=2400.0, help="seconds for the whole run (default 2400)")
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds per mutant (default 240)")
    parser.add_argument("--sample", type=int, default=None, help="only N mutants, spread over the catalogue")
    parser.add_argument("--only", nargs="*", default=None, help="only these mutant ids")
    parser.add_argument("--select", default=None, help="a pytest -k expression for conform (default: the whole "
                                                       "suite)")
    parser.add_argument("--tests", nargs="*", default=(), help="only these test modules of the suite, e.g. "
                                                              "test_behaviour_limits (faster than --select; a "
                                                              "PayKit or Paywalls.ai module for their mutants)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the unmutated run that must pass")
    parser.add_argument("--keep", action="store_true", help="keep each mutated copy (its path is printed)")
    args = parser.parse_args(argv)

    problems = check()
    if problems:
        print("mutation: the catalogue does not apply:\n  " + "\n  ".join(problems))
        return 2
    mutants = list(MUTANTS)
    if args.only:
        mutants = [m for m in mutants if m.id in set(args.only)]
    if args.sample:
        step = max(1, len(mutants) // args.sample)
        mutants = mutants[::step][:args.sample]
    conform_args = ["--budget", "quick", "--hypothesis-seed", "1", *(["-k", args.select] if args.select else []),
                    *args.tests, "--", "-x"]
    deadline = time.monotonic() + args.budget
    base = pristine()
    try:
        return _run(args, mutants, conform_args, deadline, base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _run(args: argparse.Namespace, mutants: list[Mutant], conform_args: list[str], deadline: float,
         base: Path) -> int:
    for product in [] if args.no_baseline else sorted({m.product for m in mutants}):
        verdict, took, tail = run_one(None, conform_args, args.timeout, args.keep, base, product)
        print(f"baseline of {product} (no mutation): {'passes' if verdict == 'survived' else verdict} in {took:.0f} s")
        if verdict != "survived":
            print(f"mutation: the unmutated emulator does not pass conform --product {product}, so no mutant can "
                  f"be judged:\n{tail}")
            return 2
    results: dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        futures = {}
        for m in mutants:
            futures[pool.submit(lambda m=m: run_one(m, conform_args, min(args.timeout, max(
                1.0, deadline - time.monotonic())), args.keep, base) if time.monotonic() < deadline
                else ("not run", 0.0, "the time budget ran out"))] = m
        for future in as_completed(futures):
            m = futures[future]
            verdict, took, tail = future.result()
            results[m.id] = verdict
            print(f"{verdict:<8} {m.id:<34} {took:5.0f} s  {m.what}", flush=True)
            if verdict == "survived":
                print("         " + tail.replace("\n", "\n         "))
    # A timeout proves nothing either way (a slow machine, or a mutant that hangs): not judged, listed.
    judged = [v for v in results.values() if v in ("killed", "survived")]
    killed = judged.count("killed")
    survivors = [m for m in mutants if results.get(m.id) == "survived"]
    skipped = [m.id for m in mutants if results.get(m.id) in ("not run", "timeout")]
    ratio = killed / len(judged) if judged else 0.0
    print(f"\nkilled {killed} of {len(judged)} mutants ({ratio:.0%})"
          + (f"; {len(skipped)} not judged (timeout or time budget): {', '.join(skipped)}" if skipped else ""))
    for m in survivors:
        print(f"survivor: {m.id} ({m.path}): {m.what}")
    return 0 if not survivors and not skipped else 1


if __name__ == "__main__":
    sys.exit(main())
