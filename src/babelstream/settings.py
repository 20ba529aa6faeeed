"""Every setting of babelstream, built once at the composition root (the CLI, a test, a bench) and passed down.

Each component's settings class reads the environment variables named after its fields (upper case); nothing
else in babelstream reads the environment. docs/architecture.md lists every variable, and
tests/unit/test_settings_document.py keeps that table and these classes in step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from babelstream.bus.settings import BusSettings
from babelstream.gateway.settings import GatewaySettings
from babelstream.log_format import LogSettings
from babelstream.segmentation import SegmentationSettings
from babelstream.stages.settings import StageSettings


@dataclass(frozen=True)
class Settings:
    bus: BusSettings = field(default_factory=BusSettings)
    gateway: GatewaySettings = field(default_factory=GatewaySettings)
    segmentation: SegmentationSettings = field(default_factory=SegmentationSettings)
    stages: StageSettings = field(default_factory=StageSettings)
    log: LogSettings = field(default_factory=LogSettings)

    @classmethod
    def from_environment(
        cls, *, bus: dict | None = None, gateway: dict | None = None, segmentation: dict | None = None,
        stages: dict | None = None, log: dict | None = None,
    ) -> Settings:
        """The environment, with overrides (e.g. the command line's) taking precedence field by field."""
        return cls(
            bus=BusSettings(**(bus or {})),
            gateway=GatewaySettings(**(gateway or {})),
            segmentation=SegmentationSettings(**(segmentation or {})),
            stages=StageSettings(**(stages or {})),
            log=LogSettings(**(log or {})),
        )

    @classmethod
    def classes(cls) -> dict[str, type]:
        return {"bus": BusSettings, "gateway": GatewaySettings, "segmentation": SegmentationSettings,
                "stages": StageSettings, "log": LogSettings}
