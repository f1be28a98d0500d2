"""Dashboard numbers of one project, computed from its accounts and the usage log on the emulator clock
(UTC): account stats (mrr = pro × 19), this month's metered calls, credits granted, model cost, revenue
(credits × $0.09), net and margin, the top five events, a 14-day series and the recent log. No aiohttp.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from ....engine.structs import struct
from ..models import Account, UsageEvent
from ..state import PayKitState

PRO_PRICE_USD = 19
CREDIT_PACK_SIZE = 100
CREDIT_PACK_USD = 9
CREDIT_PRICE_USD = CREDIT_PACK_USD / CREDIT_PACK_SIZE
SERIES_DAYS = 14
TOP_EVENTS = 5
RECENT = 6


@struct(frozen=True, kw_only=True)
class Stats:
    total: int
    pro: int
    mrr: int
    credits_outstanding: int


@struct(frozen=True, kw_only=True)
class Day:
    day: datetime
    metered: int
    granted: int


@struct(frozen=True, kw_only=True)
class Analytics:
    metered_this_month: int
    credits_sold_this_month: int
    cost_usd: float
    revenue_usd: float
    net_usd: float
    margin_pct: float
    top_events: list[tuple[str, int]]
    series: list[Day]
    recent: list[UsageEvent]
    stats: Stats


def stats(accounts: list[Account]) -> Stats:
    pro = sum(1 for a in accounts if a.plan == "pro")
    return Stats(total=len(accounts), pro=pro, mrr=pro * PRO_PRICE_USD,
                 credits_outstanding=sum(a.credits for a in accounts))


def analytics(state: PayKitState, now: datetime, project_id: str) -> Analytics:
    scoped = [e for e in state.usage if e.project_id == project_id]
    metered = [e for e in scoped if e.kind == "meter"]
    granted = [e for e in scoped if e.kind == "grant"]
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    metered_month = [e for e in metered if e.at >= month_start]
    sold = sum(e.amount for e in granted if e.at >= month_start)
    cost = sum(e.cost_usd or 0 for e in metered_month)
    revenue = sold * CREDIT_PRICE_USD
    net = revenue - cost
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    series = []
    for back in range(SERIES_DAYS - 1, -1, -1):
        start = today - timedelta(days=back)
        end = start + timedelta(days=1)
        series.append(Day(day=start, metered=sum(1 for e in metered if start <= e.at < end),
                          granted=sum(e.amount for e in granted if start <= e.at < end)))
    # Counter keeps first-seen order among equal counts, like PayKit's stable sort.
    top = sorted(Counter(e.name for e in metered).items(), key=lambda item: -item[1])[:TOP_EVENTS]
    # newest first; entries of one instant (a frozen clock) newest first too, so sort the log reversed
    recent = sorted(reversed(scoped), key=lambda e: e.at, reverse=True)[:RECENT]
    return Analytics(metered_this_month=len(metered_month), credits_sold_this_month=sold, cost_usd=cost,
                     revenue_usd=revenue, net_usd=net, margin_pct=_margin(net, revenue), top_events=top,
                     series=series, recent=recent, stats=stats(state.accounts_of(project_id)))


def _margin(net: float, revenue: float) -> float:
    if revenue <= 0:
        return 0
    tenths = net / revenue * 1000
    rounded = int(tenths // 1) + (1 if tenths % 1 >= 0.5 else 0)  # JavaScript's Math.round (half up)
    return rounded / 10
