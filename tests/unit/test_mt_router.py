"""The translation router: which path each pair takes, the MT_ROUTES override, what a translation reports
(engine, via), and the quality listed per pair; with fake engines and tables written here."""

from __future__ import annotations

import json

import pytest

from babelstream.capabilities import InstalledCapabilities
from babelstream.contracts.events import Event, SessionOptions, TextRecognizedPayload
from babelstream.engines.mt.base import UnsupportedPair
from babelstream.engines.mt.quality import SHIPPED_TABLE, InvalidQualityTable, QualityTable
from babelstream.engines.mt.registry import InvalidTranslationConfig, TranslatorRegistry
from babelstream.engines.mt.router import TranslationRouter, parse_routes
from babelstream.stages.settings import StageSettings
from babelstream.stages.translate import TranslateStage
from tests.support.mt import MEASURED, TaggingTranslator, engines, table


def test_the_pivot_is_taken_where_it_measured_better():
    router = TranslationRouter(engines(), MEASURED)
    route = router.route("en", "es")
    assert (route.path, route.engine, route.via) == ("en>pt>es", "bergamot+apertium", "pt")
    result = router.translate("Hi.", "en", "es")
    # Both hops ran, in order, the second on the first one's output.
    assert result.text == "Hi. <bergamot:en>pt> <apertium:pt>es>"
    assert result.route == route and len(result.steps) == 2


def test_the_direct_engine_is_kept_where_it_measured_better():
    router = TranslationRouter(engines(), MEASURED)
    route = router.route("es", "ca")
    assert (route.path, route.engine, route.via) == ("es>ca", "apertium", None)
    assert router.translate("Hola.", "es", "ca").text == "Hola. <apertium:es>ca>"


def test_a_near_tie_goes_to_the_faster_path():
    close = table(("en>es", "apertium", 65.8, 3.0), ("en>pt>es", "bergamot+apertium", 66.2, 26.0))
    assert TranslationRouter(engines(), close).route("en", "es").path == "en>es"
    wide = table(("en>es", "apertium", 64.0, 3.0), ("en>pt>es", "bergamot+apertium", 66.2, 26.0))
    assert TranslationRouter(engines(), wide).route("en", "es").path == "en>pt>es"


def test_an_unmeasured_direct_engine_is_the_operators_choice_and_wins():
    opus = TaggingTranslator("opus-ct2", {("en", "es")})
    registry = TranslatorRegistry([opus, *engines()._translators])
    route = TranslationRouter(registry, MEASURED).route("en", "es")
    assert (route.path, route.engine) == ("en>es", "opus-ct2")


def test_without_a_table_direct_engines_serve_and_pivots_open_new_pairs():
    router = TranslationRouter(engines(), QualityTable())
    assert router.route("en", "es").path == "en>es"
    assert router.route("ca", "pt").path == "ca>es>pt"  # no engine does ca->pt; two Apertium hops do
    assert router.route("ca", "en").path == "ca>es>en"
    pairs = router.pairs()
    assert {("ca", "pt"), ("pt", "ca"), ("ca", "en"), ("en", "ca")} <= pairs
    assert ("en", "en") not in pairs
    with pytest.raises(UnsupportedPair):
        router.route("en", "ja")


def test_mt_routes_overrides_the_ranking():
    routes = parse_routes("en-es=en>es, es-en = es>ca>en")
    assert routes == {("en", "es"): ("en", "es"), ("es", "en"): ("es", "ca", "en")}
    with pytest.raises(InvalidTranslationConfig):
        # ca->en has no engine here: refused at start, not at the first sentence
        TranslationRouter(engines(), MEASURED, routes)
    router = TranslationRouter(engines(), MEASURED, parse_routes("en-es=en>es,pt-en=pt>es>en"))
    assert router.route("en", "es").path == "en>es"  # measured worse, but the operator said so
    assert router.translate("Olá.", "pt", "en").text == "Olá. <apertium:pt>es> <apertium:es>en>"
    assert router.route("es", "en").path == "es>pt>en"  # pairs not named keep the ranking


@pytest.mark.parametrize(
    "spec",
    ["en-es", "en-es=en>fr>pt>es", "en-es=es>en", "en-es=en>en>es", "en-es=en>es,en-es=en>pt>es", "en=en>es"],
)
def test_malformed_routes_are_refused(spec):
    with pytest.raises(InvalidTranslationConfig):
        parse_routes(spec)


def test_identity_pairs_pass_through():
    router = TranslationRouter(engines(), MEASURED)
    result = router.translate("Hola.", "es", "es-ES")
    assert result.text == "Hola." and result.route.engine == "passthrough" and result.route.via is None


def test_quality_per_pair_and_the_low_quality_floor():
    router = TranslationRouter(engines(), MEASURED, quality_floor=45.0)
    en_es = router.quality("en", "es")
    assert en_es.score.chrf == 66.2 and not en_es.low_quality
    ca_pt = router.quality("ca", "pt")
    assert ca_pt.route.path == "ca>es>pt" and ca_pt.score.chrf == 40.0 and ca_pt.low_quality
    unmeasured = router.quality("pt", "ca")
    assert unmeasured.score is None and not unmeasured.low_quality


def test_capabilities_list_each_pairs_path_and_quality():
    capabilities = InstalledCapabilities(StageSettings(), translators=TranslationRouter(engines(), MEASURED))
    listed = capabilities.pair_quality()
    assert set(listed) == {f"{s}-{t}" for s, t in capabilities.pairs()}
    assert listed["en-es"] == {
        "path": "en>pt>es", "engine": "bergamot+apertium", "via": "pt", "chrf": 66.2, "bleu": 46.2, "low_quality": False,
    }
    assert listed["ca-pt"]["low_quality"] is True
    assert listed["pt-ca"]["chrf"] is None


async def test_the_translate_stage_names_the_path_in_each_event():
    stage = TranslateStage(StageSettings(warm_up=False), "test", router=TranslationRouter(engines(), MEASURED))
    options = SessionOptions(source_language="en", target_languages=("es", "pt", "ja"), synthesize=False, reply_to="")
    event = Event(
        payload=TextRecognizedPayload(
            text="Hi.", language="en", confidence=0.9, segment_index=0, start_ms=0, end_ms=900, options=options
        ),
        correlation_id="c",
        source_service="asr",
    )
    outputs = {out.payload.target_language: out.payload for out in await stage.handle(event)}
    assert (outputs["es"].engine, outputs["es"].via) == ("bergamot+apertium", "pt")
    assert outputs["es"].text == "Hi. <bergamot:en>pt> <apertium:pt>es>"
    assert (outputs["pt"].engine, outputs["pt"].via) == ("bergamot", None)
    assert outputs["ja"].error and outputs["ja"].via is None and outputs["ja"].text == ""


def test_the_shipped_table_loads_and_covers_every_served_direction():
    shipped = QualityTable.load(SHIPPED_TABLE)
    paths = {score.path for score in shipped.scores()}
    for pair in ["en>es", "es>en", "en>pt", "pt>en", "es>pt", "pt>es", "en>ca", "ca>en", "es>ca", "ca>es", "fr>es"]:
        assert pair in paths
    assert all(score.sentences >= 100 for score in shipped.scores())


def test_a_broken_table_is_refused_with_its_path(tmp_path):
    broken = tmp_path / "table.json"
    broken.write_text(json.dumps({"paths": [{"path": "en>es"}]}))
    with pytest.raises(InvalidQualityTable) as refused:
        QualityTable.load(broken)
    assert refused.value.path == broken
    saved = tmp_path / "saved.json"
    MEASURED.save(saved)
    assert {s.path for s in QualityTable.load(saved).scores()} == {s.path for s in MEASURED.scores()}
