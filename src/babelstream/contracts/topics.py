"""Topic names, and which event type travels on which topic (one type per topic, Confluent TopicNameStrategy)."""

AUDIO_INGRESS = "speech.audio.ingress"
SPEECH_SEGMENT = "speech.audio.speech_segment"
ASR_TEXT = "speech.asr.text"
TRANSLATION_TEXT = "speech.translation.text"
TTS_AUDIO = "speech.tts.audio"
DEAD_LETTER = "speech.dead_letter"
# Which gateway holds which room's listeners and speakers (compacted: the latest record per room and gateway).
ROOM_PRESENCE = "speech.room.presence"

TOPIC_OF_EVENT_TYPE = {
    "AudioInputEvent": AUDIO_INGRESS,
    "SpeechSegmentEvent": SPEECH_SEGMENT,
    "TextRecognizedEvent": ASR_TEXT,
    "TextTranslatedEvent": TRANSLATION_TEXT,
    "AudioSynthesisEvent": TTS_AUDIO,
    "DeadLetterEvent": DEAD_LETTER,
    "RoomPresenceEvent": ROOM_PRESENCE,
}

ALL_TOPICS = tuple(TOPIC_OF_EVENT_TYPE.values())

# What the gateway listens to in order to answer the client while it speaks.
RESULT_TOPICS = (ASR_TEXT, TRANSLATION_TEXT, TTS_AUDIO)
# The results a room keeps as history (text only: a late joiner reads what was said, it is not played to it).
HISTORY_TOPICS = (ASR_TEXT, TRANSLATION_TEXT)
