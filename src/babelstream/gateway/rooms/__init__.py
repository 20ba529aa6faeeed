"""Rooms: one or more speakers, many listeners, each hearing the talk in their own language (docs/protocol.md)."""
