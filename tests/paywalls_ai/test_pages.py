"""The hosted pages render every value escaped, self-contained (no external assets), with the buttons
only while the session or request is open."""

from __future__ import annotations

from paywall_emulator.products.paywalls_ai.domain import access, balances
from paywall_emulator.products.paywalls_ai.pages import render_authorization_page, render_topup_page

from .support import LINKS, T0, state


def test_topup_page_escapes_and_shows_buttons_only_while_open() -> None:
    st = state()
    shared = st.paywalls["pw_shared"]  # its name is "Shared <App>"
    session = balances.open_topup(st, shared, "carol", now=T0, links=LINKS)
    page = render_topup_page(session=session, paywall=shared, balance=3 * 10**18, message="<b>no</b>")
    assert "Shared &lt;App&gt;" in page and "<App>" not in page and "&lt;b&gt;no&lt;/b&gt;" in page
    assert "data-testid=pay" in page and "3.00 USDC" in page and 'value="10"' in page
    assert "http" not in page.replace('action="/_emulator', "")  # no external asset, no absolute link
    balances.pay_topup(st, session.id, "1.5", None, now=T0)
    done = render_topup_page(session=session, paywall=shared, balance=0)
    assert "data-testid=pay" not in done and "Payment received" in done and "(1.5 USD)" in done


def test_authorization_page_states() -> None:
    st = state()
    shared = st.paywalls["pw_shared"]
    request = access.request_authorization(st, shared, "dave", now=T0, links=LINKS)
    page = render_authorization_page(request=request, paywall=shared)
    assert "data-testid=approve" in page and "Shared &lt;App&gt;" in page
    access.decide(st, request.id, approve=False, now=T0)
    assert "Authorization declined" in render_authorization_page(request=request, paywall=shared)
