"""The audio every event carries: PCM16 mono at one rate, whatever the client sent (the gateway resamples)."""

PIPELINE_SAMPLE_RATE_HZ = 16_000
