from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ClientMessage(_message.Message):
    __slots__ = ("config", "audio", "done")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    config: Config
    audio: Audio
    done: Done
    def __init__(self, config: _Optional[_Union[Config, _Mapping]] = ..., audio: _Optional[_Union[Audio, _Mapping]] = ..., done: _Optional[_Union[Done, _Mapping]] = ...) -> None: ...

class Config(_message.Message):
    __slots__ = ("mode", "sample_rate_hz", "language", "targets", "synthesize", "wait_for_results", "room", "partials", "translate_partials", "resume")
    MODE_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HZ_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    SYNTHESIZE_FIELD_NUMBER: _ClassVar[int]
    WAIT_FOR_RESULTS_FIELD_NUMBER: _ClassVar[int]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    PARTIALS_FIELD_NUMBER: _ClassVar[int]
    TRANSLATE_PARTIALS_FIELD_NUMBER: _ClassVar[int]
    RESUME_FIELD_NUMBER: _ClassVar[int]
    mode: str
    sample_rate_hz: int
    language: str
    targets: Targets
    synthesize: bool
    wait_for_results: bool
    room: str
    partials: bool
    translate_partials: bool
    resume: Resume
    def __init__(self, mode: _Optional[str] = ..., sample_rate_hz: _Optional[int] = ..., language: _Optional[str] = ..., targets: _Optional[_Union[Targets, _Mapping]] = ..., synthesize: _Optional[bool] = ..., wait_for_results: _Optional[bool] = ..., room: _Optional[str] = ..., partials: _Optional[bool] = ..., translate_partials: _Optional[bool] = ..., resume: _Optional[_Union[Resume, _Mapping]] = ...) -> None: ...

class Resume(_message.Message):
    __slots__ = ("correlation_id", "resume_token", "audio_ms", "received")
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    RESUME_TOKEN_FIELD_NUMBER: _ClassVar[int]
    AUDIO_MS_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_FIELD_NUMBER: _ClassVar[int]
    correlation_id: str
    resume_token: str
    audio_ms: int
    received: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, correlation_id: _Optional[str] = ..., resume_token: _Optional[str] = ..., audio_ms: _Optional[int] = ..., received: _Optional[_Iterable[str]] = ...) -> None: ...

class Targets(_message.Message):
    __slots__ = ("languages",)
    LANGUAGES_FIELD_NUMBER: _ClassVar[int]
    languages: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, languages: _Optional[_Iterable[str]] = ...) -> None: ...

class Audio(_message.Message):
    __slots__ = ("pcm",)
    PCM_FIELD_NUMBER: _ClassVar[int]
    pcm: bytes
    def __init__(self, pcm: _Optional[bytes] = ...) -> None: ...

class Done(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ServerMessage(_message.Message):
    __slots__ = ("connected", "ready", "warning", "segment", "transcript", "translation", "audio", "ack", "summary", "audience", "partial", "resumed", "partial_translation")
    CONNECTED_FIELD_NUMBER: _ClassVar[int]
    READY_FIELD_NUMBER: _ClassVar[int]
    WARNING_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    TRANSCRIPT_FIELD_NUMBER: _ClassVar[int]
    TRANSLATION_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_FIELD_NUMBER: _ClassVar[int]
    RESUMED_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_TRANSLATION_FIELD_NUMBER: _ClassVar[int]
    connected: Connected
    ready: Ready
    warning: Warning
    segment: Segment
    transcript: Transcript
    translation: Translation
    audio: SpokenAudio
    ack: Ack
    summary: Summary
    audience: Audience
    partial: Partial
    resumed: Resumed
    partial_translation: PartialTranslation
    def __init__(self, connected: _Optional[_Union[Connected, _Mapping]] = ..., ready: _Optional[_Union[Ready, _Mapping]] = ..., warning: _Optional[_Union[Warning, _Mapping]] = ..., segment: _Optional[_Union[Segment, _Mapping]] = ..., transcript: _Optional[_Union[Transcript, _Mapping]] = ..., translation: _Optional[_Union[Translation, _Mapping]] = ..., audio: _Optional[_Union[SpokenAudio, _Mapping]] = ..., ack: _Optional[_Union[Ack, _Mapping]] = ..., summary: _Optional[_Union[Summary, _Mapping]] = ..., audience: _Optional[_Union[Audience, _Mapping]] = ..., partial: _Optional[_Union[Partial, _Mapping]] = ..., resumed: _Optional[_Union[Resumed, _Mapping]] = ..., partial_translation: _Optional[_Union[PartialTranslation, _Mapping]] = ...) -> None: ...

class Connected(_message.Message):
    __slots__ = ("correlation_id", "resume_token")
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    RESUME_TOKEN_FIELD_NUMBER: _ClassVar[int]
    correlation_id: str
    resume_token: str
    def __init__(self, correlation_id: _Optional[str] = ..., resume_token: _Optional[str] = ...) -> None: ...

class Resumed(_message.Message):
    __slots__ = ("correlation_id", "resume_token", "next_segment", "published_ms", "audio_ms", "replayed")
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    RESUME_TOKEN_FIELD_NUMBER: _ClassVar[int]
    NEXT_SEGMENT_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_MS_FIELD_NUMBER: _ClassVar[int]
    AUDIO_MS_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    correlation_id: str
    resume_token: str
    next_segment: int
    published_ms: int
    audio_ms: int
    replayed: int
    def __init__(self, correlation_id: _Optional[str] = ..., resume_token: _Optional[str] = ..., next_segment: _Optional[int] = ..., published_ms: _Optional[int] = ..., audio_ms: _Optional[int] = ..., replayed: _Optional[int] = ...) -> None: ...

class Limits(_message.Message):
    __slots__ = ("max_messages_per_second", "max_audio_speed", "max_audio_burst_seconds", "max_session_seconds")
    MAX_MESSAGES_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    MAX_AUDIO_SPEED_FIELD_NUMBER: _ClassVar[int]
    MAX_AUDIO_BURST_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MAX_SESSION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    max_messages_per_second: int
    max_audio_speed: float
    max_audio_burst_seconds: float
    max_session_seconds: float
    def __init__(self, max_messages_per_second: _Optional[int] = ..., max_audio_speed: _Optional[float] = ..., max_audio_burst_seconds: _Optional[float] = ..., max_session_seconds: _Optional[float] = ...) -> None: ...

class Ready(_message.Message):
    __slots__ = ("room", "mode", "sample_rate_hz", "source_language", "target_languages", "synthesize", "limits", "partials", "translate_partials")
    ROOM_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HZ_FIELD_NUMBER: _ClassVar[int]
    SOURCE_LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    TARGET_LANGUAGES_FIELD_NUMBER: _ClassVar[int]
    SYNTHESIZE_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    PARTIALS_FIELD_NUMBER: _ClassVar[int]
    TRANSLATE_PARTIALS_FIELD_NUMBER: _ClassVar[int]
    room: str
    mode: str
    sample_rate_hz: int
    source_language: str
    target_languages: _containers.RepeatedScalarFieldContainer[str]
    synthesize: bool
    limits: Limits
    partials: bool
    translate_partials: bool
    def __init__(self, room: _Optional[str] = ..., mode: _Optional[str] = ..., sample_rate_hz: _Optional[int] = ..., source_language: _Optional[str] = ..., target_languages: _Optional[_Iterable[str]] = ..., synthesize: _Optional[bool] = ..., limits: _Optional[_Union[Limits, _Mapping]] = ..., partials: _Optional[bool] = ..., translate_partials: _Optional[bool] = ...) -> None: ...

class Warning(_message.Message):
    __slots__ = ("kind", "reason", "source_language", "target_language", "available", "segment_index", "language", "start_ms", "end_ms")
    KIND_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SOURCE_LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    TARGET_LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_INDEX_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    START_MS_FIELD_NUMBER: _ClassVar[int]
    END_MS_FIELD_NUMBER: _ClassVar[int]
    kind: str
    reason: str
    source_language: str
    target_language: str
    available: _containers.RepeatedScalarFieldContainer[str]
    segment_index: int
    language: str
    start_ms: int
    end_ms: int
    def __init__(self, kind: _Optional[str] = ..., reason: _Optional[str] = ..., source_language: _Optional[str] = ..., target_language: _Optional[str] = ..., available: _Optional[_Iterable[str]] = ..., segment_index: _Optional[int] = ..., language: _Optional[str] = ..., start_ms: _Optional[int] = ..., end_ms: _Optional[int] = ...) -> None: ...

class Segment(_message.Message):
    __slots__ = ("segment_index", "start_ms", "end_ms", "event_id")
    SEGMENT_INDEX_FIELD_NUMBER: _ClassVar[int]
    START_MS_FIELD_NUMBER: _ClassVar[int]
    END_MS_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    segment_index: int
    start_ms: int
    end_ms: int
    event_id: str
    def __init__(self, segment_index: _Optional[int] = ..., start_ms: _Optional[int] = ..., end_ms: _Optional[int] = ..., event_id: _Optional[str] = ...) -> None: ...

class Partial(_message.Message):
    __slots__ = ("segment_index", "stable_text", "unstable_text", "language", "start_ms", "audio_ms")
    SEGMENT_INDEX_FIELD_NUMBER: _ClassVar[int]
    STABLE_TEXT_FIELD_NUMBER: _ClassVar[int]
    UNSTABLE_TEXT_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    START_MS_FIELD_NUMBER: _ClassVar[int]
    AUDIO_MS_FIELD_NUMBER: _ClassVar[int]
    segment_index: int
    stable_text: str
    unstable_text: str
    language: str
    start_ms: int
    audio_ms: int
    def __init__(self, segment_index: _Optional[int] = ..., stable_text: _Optional[str] = ..., unstable_text: _Optional[str] = ..., language: _Optional[str] = ..., start_ms: _Optional[int] = ..., audio_ms: _Optional[int] = ...) -> None: ...

class PartialTranslation(_message.Message):
    __slots__ = ("segment_index", "language", "text", "source_text", "start_ms", "audio_ms")
    SEGMENT_INDEX_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_TEXT_FIELD_NUMBER: _ClassVar[int]
    START_MS_FIELD_NUMBER: _ClassVar[int]
    AUDIO_MS_FIELD_NUMBER: _ClassVar[int]
    segment_index: int
    language: str
    text: str
    source_text: str
    start_ms: int
    audio_ms: int
    def __init__(self, segment_index: _Optional[int] = ..., language: _Optional[str] = ..., text: _Optional[str] = ..., source_text: _Optional[str] = ..., start_ms: _Optional[int] = ..., audio_ms: _Optional[int] = ...) -> None: ...

class Transcript(_message.Message):
    __slots__ = ("segment_index", "text", "language", "confidence", "start_ms", "end_ms", "latency_ms", "stage_ms", "event_id", "room", "speaker", "history", "revised")
    class StageMsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    SEGMENT_INDEX_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    START_MS_FIELD_NUMBER: _ClassVar[int]
    END_MS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    STAGE_MS_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    SPEAKER_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    REVISED_FIELD_NUMBER: _ClassVar[int]
    segment_index: int
    text: str
    language: str
    confidence: float
    start_ms: int
    end_ms: int
    latency_ms: float
    stage_ms: _containers.ScalarMap[str, float]
    event_id: str
    room: str
    speaker: str
    history: bool
    revised: bool
    def __init__(self, segment_index: _Optional[int] = ..., text: _Optional[str] = ..., language: _Optional[str] = ..., confidence: _Optional[float] = ..., start_ms: _Optional[int] = ..., end_ms: _Optional[int] = ..., latency_ms: _Optional[float] = ..., stage_ms: _Optional[_Mapping[str, float]] = ..., event_id: _Optional[str] = ..., room: _Optional[str] = ..., speaker: _Optional[str] = ..., history: _Optional[bool] = ..., revised: _Optional[bool] = ...) -> None: ...

class Translation(_message.Message):
    __slots__ = ("segment_index", "source_language", "target_language", "text", "source_text", "engine", "via", "start_ms", "end_ms", "latency_ms", "stage_ms", "event_id", "room", "speaker", "history")
    class StageMsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    SEGMENT_INDEX_FIELD_NUMBER: _ClassVar[int]
    SOURCE_LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    TARGET_LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_TEXT_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    VIA_FIELD_NUMBER: _ClassVar[int]
    START_MS_FIELD_NUMBER: _ClassVar[int]
    END_MS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    STAGE_MS_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    SPEAKER_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    segment_index: int
    source_language: str
    target_language: str
    text: str
    source_text: str
    engine: str
    via: str
    start_ms: int
    end_ms: int
    latency_ms: float
    stage_ms: _containers.ScalarMap[str, float]
    event_id: str
    room: str
    speaker: str
    history: bool
    def __init__(self, segment_index: _Optional[int] = ..., source_language: _Optional[str] = ..., target_language: _Optional[str] = ..., text: _Optional[str] = ..., source_text: _Optional[str] = ..., engine: _Optional[str] = ..., via: _Optional[str] = ..., start_ms: _Optional[int] = ..., end_ms: _Optional[int] = ..., latency_ms: _Optional[float] = ..., stage_ms: _Optional[_Mapping[str, float]] = ..., event_id: _Optional[str] = ..., room: _Optional[str] = ..., speaker: _Optional[str] = ..., history: _Optional[bool] = ...) -> None: ...

class SpokenAudio(_message.Message):
    __slots__ = ("segment_index", "language", "text", "format", "sample_rate_hz", "duration_ms", "voice", "engine", "latency_ms", "stage_ms", "audio_wav", "event_id", "room", "speaker", "history")
    class StageMsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    SEGMENT_INDEX_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HZ_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    VOICE_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    STAGE_MS_FIELD_NUMBER: _ClassVar[int]
    AUDIO_WAV_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    SPEAKER_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    segment_index: int
    language: str
    text: str
    format: str
    sample_rate_hz: int
    duration_ms: int
    voice: str
    engine: str
    latency_ms: float
    stage_ms: _containers.ScalarMap[str, float]
    audio_wav: bytes
    event_id: str
    room: str
    speaker: str
    history: bool
    def __init__(self, segment_index: _Optional[int] = ..., language: _Optional[str] = ..., text: _Optional[str] = ..., format: _Optional[str] = ..., sample_rate_hz: _Optional[int] = ..., duration_ms: _Optional[int] = ..., voice: _Optional[str] = ..., engine: _Optional[str] = ..., latency_ms: _Optional[float] = ..., stage_ms: _Optional[_Mapping[str, float]] = ..., audio_wav: _Optional[bytes] = ..., event_id: _Optional[str] = ..., room: _Optional[str] = ..., speaker: _Optional[str] = ..., history: _Optional[bool] = ...) -> None: ...

class Ack(_message.Message):
    __slots__ = ("correlation_id", "event_id", "event_ids", "segments", "received_bytes")
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_IDS_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_BYTES_FIELD_NUMBER: _ClassVar[int]
    correlation_id: str
    event_id: str
    event_ids: _containers.RepeatedScalarFieldContainer[str]
    segments: int
    received_bytes: int
    def __init__(self, correlation_id: _Optional[str] = ..., event_id: _Optional[str] = ..., event_ids: _Optional[_Iterable[str]] = ..., segments: _Optional[int] = ..., received_bytes: _Optional[int] = ...) -> None: ...

class Summary(_message.Message):
    __slots__ = ("correlation_id", "complete", "segments", "transcripts", "translations", "audio", "warnings", "missing_segments")
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    TRANSCRIPTS_FIELD_NUMBER: _ClassVar[int]
    TRANSLATIONS_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    MISSING_SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    correlation_id: str
    complete: bool
    segments: int
    transcripts: int
    translations: int
    audio: int
    warnings: int
    missing_segments: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, correlation_id: _Optional[str] = ..., complete: _Optional[bool] = ..., segments: _Optional[int] = ..., transcripts: _Optional[int] = ..., translations: _Optional[int] = ..., audio: _Optional[int] = ..., warnings: _Optional[int] = ..., missing_segments: _Optional[_Iterable[int]] = ...) -> None: ...

class Audience(_message.Message):
    __slots__ = ("room", "listeners", "languages", "speakers")
    class LanguagesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    ROOM_FIELD_NUMBER: _ClassVar[int]
    LISTENERS_FIELD_NUMBER: _ClassVar[int]
    LANGUAGES_FIELD_NUMBER: _ClassVar[int]
    SPEAKERS_FIELD_NUMBER: _ClassVar[int]
    room: str
    listeners: int
    languages: _containers.ScalarMap[str, int]
    speakers: int
    def __init__(self, room: _Optional[str] = ..., listeners: _Optional[int] = ..., languages: _Optional[_Mapping[str, int]] = ..., speakers: _Optional[int] = ...) -> None: ...

class Error(_message.Message):
    __slots__ = ("code", "kind", "reason", "retry_after_ms")
    CODE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RETRY_AFTER_MS_FIELD_NUMBER: _ClassVar[int]
    code: int
    kind: str
    reason: str
    retry_after_ms: int
    def __init__(self, code: _Optional[int] = ..., kind: _Optional[str] = ..., reason: _Optional[str] = ..., retry_after_ms: _Optional[int] = ...) -> None: ...

class LanguagesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PairQuality(_message.Message):
    __slots__ = ("path", "engine", "via", "chrf", "bleu", "low_quality")
    PATH_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    VIA_FIELD_NUMBER: _ClassVar[int]
    CHRF_FIELD_NUMBER: _ClassVar[int]
    BLEU_FIELD_NUMBER: _ClassVar[int]
    LOW_QUALITY_FIELD_NUMBER: _ClassVar[int]
    path: str
    engine: str
    via: str
    chrf: float
    bleu: float
    low_quality: bool
    def __init__(self, path: _Optional[str] = ..., engine: _Optional[str] = ..., via: _Optional[str] = ..., chrf: _Optional[float] = ..., bleu: _Optional[float] = ..., low_quality: _Optional[bool] = ...) -> None: ...

class LanguagesResponse(_message.Message):
    __slots__ = ("default_source_language", "default_target_languages", "source_languages", "pairs", "speech_languages", "pair_quality", "quality_floor")
    class PairQualityEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: PairQuality
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[PairQuality, _Mapping]] = ...) -> None: ...
    DEFAULT_SOURCE_LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_TARGET_LANGUAGES_FIELD_NUMBER: _ClassVar[int]
    SOURCE_LANGUAGES_FIELD_NUMBER: _ClassVar[int]
    PAIRS_FIELD_NUMBER: _ClassVar[int]
    SPEECH_LANGUAGES_FIELD_NUMBER: _ClassVar[int]
    PAIR_QUALITY_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FLOOR_FIELD_NUMBER: _ClassVar[int]
    default_source_language: str
    default_target_languages: _containers.RepeatedScalarFieldContainer[str]
    source_languages: _containers.RepeatedScalarFieldContainer[str]
    pairs: _containers.RepeatedScalarFieldContainer[str]
    speech_languages: _containers.RepeatedScalarFieldContainer[str]
    pair_quality: _containers.MessageMap[str, PairQuality]
    quality_floor: float
    def __init__(self, default_source_language: _Optional[str] = ..., default_target_languages: _Optional[_Iterable[str]] = ..., source_languages: _Optional[_Iterable[str]] = ..., pairs: _Optional[_Iterable[str]] = ..., speech_languages: _Optional[_Iterable[str]] = ..., pair_quality: _Optional[_Mapping[str, PairQuality]] = ..., quality_floor: _Optional[float] = ...) -> None: ...
