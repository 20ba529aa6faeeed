"""What this installation can do, as GET /api/languages and gRPC's Languages answer it (one answer, two doors)."""

from __future__ import annotations

from babelstream.gateway.session_options import Capabilities
from babelstream.gateway.settings import GatewaySettings


def installed_languages(settings: GatewaySettings, capabilities: Capabilities | None) -> dict:
    """None where the gateway does not know (no engines in this process, and none described to it)."""

    def listed(values) -> list | None:
        return None if values is None else sorted(values)

    pairs = capabilities.pairs() if capabilities else None
    return {
        "default_source_language": settings.default_source_language,
        "default_target_languages": list(settings.default_target_languages),
        "source_languages": listed(capabilities.source_languages()) if capabilities else None,
        "pairs": None if pairs is None else [f"{s}-{t}" for s, t in sorted(pairs)],
        "speech_languages": listed(capabilities.speech_languages()) if capabilities else None,
        # Per pair: its path, measured chrF/BLEU, and low_quality under the floor (the page warns).
        "pair_quality": capabilities.pair_quality() if capabilities else None,
        "quality_floor": capabilities.quality_floor() if capabilities else None,
    }
