"""The gateway's answers to broken upstreams and to quota running out, read by the `openai` package
(000: "quota can run out mid-stream"): a complete stream, a 2xx stream that breaks off (the client
raises mid-iteration, the charge stands), a 5xx that breaks after its headers (refunded, the client's
own retries too), and a balance spent while a stream is still arriving (the stream finishes, the next
call is the SDK's quota error)."""

from __future__ import annotations

import importlib
from typing import Any

import openai
import pytest

from paywall_emulator.testing import ThreadedEmulator

from .gateway_support import (
    BOB,
    BREAK_2,
    FAIL_BREAK,
    STANDARD,
    TOKEN_PW,
    adjust,
    balances,
    sdk_gateway_error,
    upstreams,
)
from .gateway_support import tokens as tokens  # the fixture

MESSAGES = [{"role": "user", "content": "tell me a story"}]


def http_library() -> Any:
    """The HTTP library under the installed `openai` (httpx, or the fork later releases use)."""
    base = next(c for c in openai.DefaultHttpxClient.__mro__[1:] if c.__name__ == "Client")
    return importlib.import_module(base.__module__.split(".")[0])


HTTP = http_library()


def client(emu: ThreadedEmulator, provider: str, *, max_retries: int = 0) -> openai.OpenAI:
    """An OpenAI client pointed at the gateway, signed in as bob (a Bearer minted for paywall 15)."""
    token = emu.control.mint_token(TOKEN_PW, user_id=BOB)
    return openai.OpenAI(base_url=f"{emu.base_url}/api/v1/api-gateway/{provider}/v1", api_key=token,
                         default_headers={"X-Paywall-Id": TOKEN_PW}, max_retries=max_retries)


def test_a_complete_stream_is_charged_once(tokens: ThreadedEmulator) -> None:
    stream = client(tokens, STANDARD).chat.completions.create(model="fake-gpt", messages=MESSAGES, stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "Echo: tell me a story"
    assert balances(tokens.base_url)["standard"] == 4


def test_a_2xx_stream_that_breaks_off_raises_mid_iteration_and_keeps_its_charge(tokens: ThreadedEmulator) -> None:
    stream = client(tokens, BREAK_2).chat.completions.create(model="fake-gpt", messages=MESSAGES, stream=True)
    got: list[str] = []
    # a body that broke off: wrapped as a connection error by recent releases, raw before
    with pytest.raises((openai.APIConnectionError, HTTP.TransportError)):
        for chunk in stream:
            got.append(chunk.choices[0].delta.content or "")
    assert got == ["", "Echo: "]  # the role chunk and the first words, then the cut
    assert balances(tokens.base_url)["standard"] == 4


@pytest.mark.parametrize("retries", [0, 2])
def test_a_5xx_broken_after_its_headers_is_refunded_retries_included(tokens: ThreadedEmulator,
                                                                     retries: int) -> None:
    """The client sees the 503 status line, then fails reading the error body that never comes (a
    transport error, which it does not wrap); each attempt, its own retries included, is refunded."""
    stats = upstreams(tokens).stats
    forwarded, refunded = tokens.call(lambda: (stats.forwarded, stats.refunded))
    with pytest.raises(HTTP.RemoteProtocolError) as broken:
        client(tokens, FAIL_BREAK, max_retries=retries).chat.completions.create(
            model="fake-gpt", messages=MESSAGES, stream=True)
    chain: list[BaseException] = []
    cause: BaseException | None = broken.value
    while cause is not None:
        chain.append(cause)
        cause = cause.__context__
    (status,) = [e for e in chain if isinstance(e, HTTP.HTTPStatusError)]
    assert status.response.status_code == 503 and "X-Query-Type" not in status.response.headers
    assert tokens.call(lambda: (stats.forwarded, stats.refunded)) == (forwarded + 1 + retries,
                                                                      refunded + 1 + retries)
    assert balances(tokens.base_url)["standard"] == 5


def test_quota_spent_mid_stream_lets_the_stream_finish_and_refuses_the_next_call(tokens: ThreadedEmulator) -> None:
    adjust(tokens.base_url, "standard", 4, "debit")  # one call's worth left
    openai_client = client(tokens, STANDARD)
    stream = openai_client.chat.completions.create(model="fake-gpt", messages=MESSAGES, stream=True)
    first = next(iter(stream))
    assert first.choices[0].delta.role == "assistant"
    assert balances(tokens.base_url)["standard"] == 0  # the whole cost was reserved before forwarding
    with pytest.raises(openai.APIStatusError) as refused:
        openai_client.chat.completions.create(model="fake-gpt", messages=MESSAGES, stream=True)
    assert refused.value.status_code == 402
    quota = sdk_gateway_error(refused.value.response)  # type: ignore[arg-type]
    assert quota["name"] == "QuotaExceededError" and quota["currentBalance"] == {"type": "standard", "count": 0}
    rest = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert rest == "Echo: tell me a story"  # the stream that was paid for is never cut for quota
    assert balances(tokens.base_url)["standard"] == 0
