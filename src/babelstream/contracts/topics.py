"""Topic names, and which event type travels on which topic (one type per topic, Confluent TopicNameStrategy)."""

AUDIO_INGRESS = "speech.audio.ingress"
SPEECH_SEGMENT = "speech.audio.speech_segment"
ASR_TEXT = "speech.asr.text"
TRANSLATION_TEXT = "speech.translation.text"
TTS_AUDIO = "speech.tts.audio"
DEAD_LETTER = "speech.dead_letter"
# Which gateway holds which room's listeners and speakers (compacted: the latest record per room and gateway).
ROOM_PRESENCE = "speech.room.presence"
# Interim results: an open utterance's audio as it grows, and what was decoded from it (docs/protocol.md, "partial").
SPEECH_WINDOW = "speech.audio.speech_window"
ASR_PARTIAL = "speech.asr.partial"
# Interim translations: an open utterance's stable text translated as it grows (docs/protocol.md, "partial_translation").
TRANSLATION_PARTIAL = "speech.translation.partial"

TOPIC_OF_EVENT_TYPE = {
    "AudioInputEvent": AUDIO_INGRESS,
    "SpeechSegmentEvent": SPEECH_SEGMENT,
    "TextRecognizedEvent": ASR_TEXT,
    "TextTranslatedEvent": TRANSLATION_TEXT,
    "AudioSynthesisEvent": TTS_AUDIO,
    "DeadLetterEvent": DEAD_LETTER,
    "RoomPresenceEvent": ROOM_PRESENCE,
    "SpeechWindowEvent": SPEECH_WINDOW,
    "PartialTranscriptEvent": ASR_PARTIAL,
    "PartialTranslationEvent": TRANSLATION_PARTIAL,
}

ALL_TOPICS = tuple(TOPIC_OF_EVENT_TYPE.values())

# What the gateway listens to in order to answer the client while it speaks.
RESULT_TOPICS = (ASR_TEXT, TRANSLATION_TEXT, TTS_AUDIO, ASR_PARTIAL, TRANSLATION_PARTIAL)
# The results a room keeps as history (text only: a late joiner reads what was said, it is not played to it).
HISTORY_TOPICS = (ASR_TEXT, TRANSLATION_TEXT)
