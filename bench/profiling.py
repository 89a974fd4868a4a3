"""Profiles of our side where we lose (filled in below)."""

from __future__ import annotations

from typing import Any


def profile_losses(ctx: Any, found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return []
