"""What a contract run targets and how hard it pushes: `Settings` (from pytest options, then `PAYWALL_*`
environment variables, then the bundled emulator's defaults) and the `Budget` tiers.

Pure data; no HTTP and no `emulator` import, so it is safe anywhere.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The bundled world (fixtures/default.yaml, README table): what the in-thread emulator target uses when
# no option says otherwise. A real deployment must name its own ids.
EMULATOR_DEFAULTS: dict[str, str] = {
    "api_key": "sk_emulator_acme_4f1c2d9e8b7a6c5d",
    "paywall_id": "3",  # stripe
    "email": "alice@example.com",  # active monthly subscriber on 3
    "other_id": "7",  # same owner, paddle
    "foreign_id": "40",  # another owner's paywall
    "tokenized_id": "15",
    "freemius_id": "12",
    "provider_id": "3f6c1a52-7d2e-4b8f-9a10-5c4e2b7d9f01",  # paywall 15, type standard
    "free_provider_id": "c0ffee00-0000-4000-8000-0000000f4ee0",  # paywall 15, type free
    # PayKit (product `paykit`): a project that is not the open demo one, and the webhook secret
    "paykit_publishable_key": "pk_live_studio_5f0c2a7d9e3b41c8",
    "paykit_secret_key": "sk_live_studio_8b1e6d4f2a9c07e53d6b",
    "paykit_webhook_secret": "whsec_paykit_demo",  # the demo project's: the signed-webhook tests use it
}
# The same for `--paywall-product paywalls-ai` (docs/paywalls-ai.md): the default-mode demo paywall's key.
PAYWALLS_AI_DEFAULTS: dict[str, str] = {"api_key": "sk-paywalls-v1-emulator-demo", "paywall_id": "pw_demo"}
PRODUCT_DEFAULTS: dict[str, dict[str, str]] = {"monetize": EMULATOR_DEFAULTS, "paykit": EMULATOR_DEFAULTS,
                                               "paywalls-ai": PAYWALLS_AI_DEFAULTS}
PRODUCTS = tuple(PRODUCT_DEFAULTS)


@dataclass(frozen=True, slots=True)
class Budget:
    """How many requests a tier may send. `max_requests` is enforced by the HTTP session: a run that would
    exceed it stops with an error instead of hammering the target."""

    name: str
    max_examples: int  # Hypothesis examples per operation (generated tests) and per phase
    coverage: bool  # Schemathesis' deterministic boundary-value phase
    stateful_examples: int
    stateful_steps: int
    behaviour_examples: int  # Hypothesis examples of the hand-written property tests
    max_requests: int


BUDGETS: dict[str, Budget] = {
    "quick": Budget(name="quick", max_examples=4, coverage=False, stateful_examples=3, stateful_steps=4,
                    behaviour_examples=4, max_requests=2_000),
    "default": Budget(name="default", max_examples=20, coverage=True, stateful_examples=12, stateful_steps=8,
                      behaviour_examples=15, max_requests=8_000),
    "thorough": Budget(name="thorough", max_examples=80, coverage=True, stateful_examples=40, stateful_steps=15,
                       behaviour_examples=50, max_requests=40_000),
}


@dataclass(frozen=True, slots=True)
class Settings:
    """One contract run. `base_url is None` means: start the bundled emulator in a thread."""

    base_url: str | None
    api_key: str
    paywall_id: str
    email: str | None  # an existing user with an active purchase on `paywall_id`
    other_id: str | None  # another paywall of the same owner
    foreign_id: str | None  # a paywall of another owner (the key must get 403 there)
    tokenized_id: str | None
    freemius_id: str | None
    provider_id: str | None  # a gateway provider of `tokenized_id`
    free_provider_id: str | None  # a provider of `tokenized_id` whose type is `free`
    allow_writes: bool
    control: bool  # the target serves the emulator control API under /_emulator
    budget: Budget
    run_id: str
    rate_limit: str | None  # e.g. "20/s"; Schemathesis' syntax
    hypothesis_seed: int  # the generated tests' seed; random unless given, always printed so a run can be repeated
    hypothesis_seed_given: bool
    spec_path: Path | None
    report_path: Path | None
    extra: dict[str, Any] = field(default_factory=dict)
    product: str = "monetize"  # whose suite runs (PRODUCTS)
    # PayKit: keys of a project that is not the demo one (None: the demo-project tests only) and, to send
    # signed webhooks, that project's webhook secret.
    paykit_publishable_key: str | None = None
    paykit_secret_key: str | None = None
    paykit_webhook_secret: str | None = None

    @property
    def in_thread(self) -> bool:
        return self.base_url is None

    @property
    def target_kind(self) -> str:
        if self.in_thread:
            return "in-thread emulator"
        return "paywall-emulator (control API on)" if self.control else "real deployment"

    def run_email(self, tag: str) -> str:
        """A fresh, findable address for something this run creates."""
        return f"conform+{self.run_id}-{tag}@example.com"

    def paywall_ids(self) -> list[str]:
        ids = [self.paywall_id, self.other_id, self.tokenized_id, self.freemius_id, self.foreign_id]
        return list(dict.fromkeys(i for i in ids if i))


REQUIRED = "(default: the bundled world's, in a thread; none with a URL)"
OPTIONAL = "(default: the bundled world's, in a thread; none with a URL: the tests needing it are skipped)"
# name -> (option dest, env var, help)
OPTIONS: tuple[tuple[str, str, str], ...] = (
    ("--paywall-base-url", "PAYWALL_BASE_URL",
     "base URL of the target (default: start the bundled emulator in a thread)"),
    ("--paywall-api-key", "PAYWALL_API_KEY", f"the owner's server key (X-Api-Key) {REQUIRED}"),
    ("--paywall-id", "PAYWALL_ID", f"the paywall the suite exercises {REQUIRED}"),
    ("--paywall-email", "PAYWALL_EMAIL",
     "an existing user with an active purchase on --paywall-id (identity and 409 tests) "
     f"{OPTIONAL}"),
    ("--paywall-other-id", "PAYWALL_OTHER_ID", "another paywall of the same owner (identity_not_on_paywall) "
     f"{OPTIONAL}"),
    ("--paywall-foreign-id", "PAYWALL_FOREIGN_ID", f"a paywall of another owner (cross-owner 403) {OPTIONAL}"),
    ("--paywall-tokenized-id", "PAYWALL_TOKENIZED_ID", f"a tokenized paywall (balances, gateway) {OPTIONAL}"),
    ("--paywall-freemius-id", "PAYWALL_FREEMIUS_ID", f"a Freemius paywall (portal 403) {OPTIONAL}"),
    ("--paywall-provider-id", "PAYWALL_PROVIDER_ID", f"a gateway provider of the tokenized paywall {OPTIONAL}"),
    ("--paywall-free-provider-id", "PAYWALL_FREE_PROVIDER_ID",
     "a provider of the tokenized paywall whose query type is free (never charged) "
     f"{OPTIONAL}"),
    ("--paywall-budget", "PAYWALL_BUDGET", "quick | default | thorough (default: default)"),
    ("--paywall-run-id", "PAYWALL_RUN_ID", "tag for everything the run creates (default: random)"),
    ("--paywall-rate-limit", "PAYWALL_RATE_LIMIT",
     "request rate for generated tests, e.g. 20/s (default: 20/s for a real deployment, none for the emulator: "
     "in-thread or --control)"),
    ("--paywall-hypothesis-seed", "PAYWALL_HYPOTHESIS_SEED",
     "Hypothesis seed of the generated tests (default: random)"),
    ("--paywall-spec", "PAYWALL_SPEC", "the OpenAPI document to test against (default: the bundled one)"),
    ("--paywall-report", "PAYWALL_REPORT", "write the per-operation report (JSON) here (default: none)"),
    ("--paywall-product", "PAYWALL_PRODUCT",
     "the product whose suite runs: monetize, paykit or paywalls-ai (default: monetize)"),
    ("--paywall-paykit-publishable-key", "PAYKIT_PUBLISHABLE_KEY",
     "PayKit: a publishable key of a project other than the demo one (rights and secure-metering tests) "
     f"{OPTIONAL}"),
    ("--paywall-paykit-secret-key", "PAYKIT_SECRET_KEY", f"PayKit: the secret key of that project {OPTIONAL}"),
    ("--paywall-paykit-webhook-secret", "PAYKIT_WEBHOOK_SECRET",
     f"PayKit: the Stripe webhook secret of the target (signed-webhook tests) {OPTIONAL}"),
)
# Only `--paywall-*` names: the plugin loads into every pytest session of a project that installed the package,
# so a bare name (`--allow-writes`) could clash with another plugin's. `paywall-emulator conform` keeps its short
# CLI flags and translates them (emulator/conform.py).
FLAGS: tuple[tuple[str, str, str], ...] = (
    ("--paywall-allow-writes", "PAYWALL_ALLOW_WRITES",
     "let tests create checkouts, tickets and balance changes on a real deployment (test-mode paywalls only) "
     "(default: off; always on for the in-thread emulator)"),
    ("--paywall-control", "PAYWALL_CONTROL",
     "the target is a paywall-emulator: use its /_emulator control API (emulator_only tests run) "
     "(default: off; always on for the in-thread emulator)"),
)


def dest(option: str) -> str:
    return option.lstrip("-").replace("-", "_")


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def from_options(get: Callable[[str], Any], environ: dict[str, str] | None = None) -> Settings:
    """Build settings from option values (`get(dest)`), falling back to `PAYWALL_*` variables."""
    env = os.environ if environ is None else environ
    values: dict[str, str | None] = {}
    for option, var, _ in OPTIONS:
        value = get(dest(option))
        values[dest(option)] = value if value not in (None, "") else (env.get(var) or None)
    flags = {dest(flag): bool(get(dest(flag))) or _truthy(env.get(var)) for flag, var, _ in FLAGS}

    base_url = values["paywall_base_url"]
    in_thread = base_url is None
    product = values["paywall_product"] or "monetize"
    if product not in PRODUCTS:
        raise ValueError(f"unknown product {product!r}; choose one of {', '.join(PRODUCTS)}")
    defaults = PRODUCT_DEFAULTS[product] if in_thread else {}

    def pick(name: str, key: str) -> str | None:
        return values[name] or defaults.get(key)

    api_key, paywall_id = pick("paywall_api_key", "api_key"), pick("paywall_id", "paywall_id")
    if product == "paywalls-ai" and not in_thread and not api_key:
        raise ValueError("a real Paywalls.ai target needs --paywall-api-key (the paywall's sk-paywalls-… key)")
    if product == "monetize" and not in_thread and (not api_key or not paywall_id):
        raise ValueError("a real target needs --paywall-api-key and --paywall-id (or PAYWALL_API_KEY, PAYWALL_ID)")
    budget_name = values["paywall_budget"] or "default"
    if budget_name not in BUDGETS:
        raise ValueError(f"unknown budget {budget_name!r}; choose one of {', '.join(BUDGETS)}")
    hypothesis_seed = values["paywall_hypothesis_seed"]
    if hypothesis_seed and not re.fullmatch(r"-?\d+", hypothesis_seed.strip()):
        raise ValueError(f"--paywall-hypothesis-seed takes a whole number, got {hypothesis_seed!r}")
    spec, report = values["paywall_spec"], values["paywall_report"]
    if spec and not Path(spec).is_file():
        raise ValueError(f"--paywall-spec {spec}: no such file (leave it out to test against the bundled document)")
    # Only an emulator has the control API: a `--control` run targets one, and its default is no cap.
    rate = values["paywall_rate_limit"] or (None if in_thread or flags["paywall_control"] else "20/s")
    if rate not in (None, "none", "off", "0") and not re.fullmatch(r"[1-9]\d*/[smhd]", rate):
        raise ValueError(f"--paywall-rate-limit takes requests per unit, like 20/s, 600/m, 1000/h or 5000/d "
                         f"(or none), got {rate!r}")
    return Settings(
        base_url=base_url.rstrip("/") if base_url else None,
        api_key=str(api_key),
        paywall_id=str(paywall_id),
        email=pick("paywall_email", "email"),
        other_id=pick("paywall_other_id", "other_id"),
        foreign_id=pick("paywall_foreign_id", "foreign_id"),
        tokenized_id=pick("paywall_tokenized_id", "tokenized_id"),
        freemius_id=pick("paywall_freemius_id", "freemius_id"),
        provider_id=pick("paywall_provider_id", "provider_id"),
        free_provider_id=pick("paywall_free_provider_id", "free_provider_id"),
        # The in-thread emulator is disposable: writes are always allowed there.
        allow_writes=in_thread or flags["paywall_allow_writes"],
        control=in_thread or flags["paywall_control"],
        budget=BUDGETS[budget_name],
        run_id=values["paywall_run_id"] or secrets.token_hex(4),
        rate_limit=None if rate in ("none", "off", "0") else rate,
        hypothesis_seed=int(hypothesis_seed) if hypothesis_seed else secrets.randbelow(2**31),
        hypothesis_seed_given=bool(hypothesis_seed),
        spec_path=Path(spec) if spec else None,
        report_path=Path(report) if report else None,
        product=product,
        paykit_publishable_key=pick("paywall_paykit_publishable_key", "paykit_publishable_key"),
        paykit_secret_key=pick("paywall_paykit_secret_key", "paykit_secret_key"),
        paykit_webhook_secret=pick("paywall_paykit_webhook_secret", "paykit_webhook_secret"),
    )
