"""`python -m paywall_emulator` is the `paywall-emulator` CLI."""

from __future__ import annotations

from .cli import main

raise SystemExit(main())
