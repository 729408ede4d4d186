"""The speed targets both benchmark scripts check: a minimum ratio to the peer and/or a ceiling."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Target"]


@dataclass(frozen=True)
class Target:
    min_ratio: float | None = None
    max_seconds: float | None = None

    def describe(self) -> str:
        parts = []
        if self.min_ratio is not None:
            parts.append(f">={self.min_ratio:g}x")
        if self.max_seconds is not None:
            parts.append(f"<{self.max_seconds:g} s")
        return ", ".join(parts)

    def verdict(self, peer: float | None, loopline: float | None) -> str:
        """PASS/MISS for Loopline's seconds against the peer's (ERROR if Loopline failed)."""
        if loopline is None:
            return "ERROR"
        ok = self.max_seconds is None or loopline < self.max_seconds
        if self.min_ratio is not None:
            if peer is None:
                return "n/a"
            ok = ok and peer / loopline >= self.min_ratio
        return "PASS" if ok else "MISS"
