"""Speech engines: ASR, VAD, MT and TTS wrappers with no knowledge of the bus or the gateway."""
