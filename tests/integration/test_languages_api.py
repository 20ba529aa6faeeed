"""GET /api/languages over a real socket: pairs that only a pivot serves, with their measured quality."""

from __future__ import annotations

from babelstream.capabilities import InstalledCapabilities
from babelstream.engines.mt.router import TranslationRouter
from babelstream.stages.settings import StageSettings
from tests.support.mt import MEASURED, engines


async def test_api_languages_lists_pivot_pairs_with_their_quality():
    import httpx

    from babelstream.bus.memory import MemoryBus
    from babelstream.contracts.codec import SingleObjectCodec
    from tests.support.harness import running_gateway

    capabilities = InstalledCapabilities(StageSettings(), translators=TranslationRouter(engines(), MEASURED))
    async with running_gateway(MemoryBus(), SingleObjectCodec(), capabilities=capabilities) as (_, address):
        async with httpx.AsyncClient() as client:
            languages = (await client.get(f"http://{address}/api/languages")).json()
    assert "ca-pt" in languages["pairs"]  # served only through a pivot
    assert languages["pair_quality"]["en-es"]["path"] == "en>pt>es"
    assert languages["pair_quality"]["en-es"]["chrf"] == 66.2
    assert languages["pair_quality"]["ca-pt"]["low_quality"] is True
    assert languages["quality_floor"] == 45.0
