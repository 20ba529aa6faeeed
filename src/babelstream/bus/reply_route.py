"""Where an event is published: its type's topic, and for a session's results, the reply partition of the gateway
that reads them.

A gateway stamps each event it publishes with a reply partition (gateway/reply_partitions.py: its own, or its
room's); every event a stage derives keeps it (`Event.derive`). A result then goes where the gateways read:
- spoken audio and interim results, which no stage reads, go to that partition of their own topic;
- transcripts and translations, which the next stage reads balanced by key, go to their topic by key as always,
  and a copy goes to that partition of their reply topic (contracts/topics.py, REPLY_TOPIC_OF).
Every other event, and a result with no reply partition, goes by key. Stages know nothing of gateways or rooms:
the route is a number in the envelope, and this module is the only place it is read.
"""

from __future__ import annotations

from dataclasses import dataclass

from babelstream.contracts.events import Event
from babelstream.contracts.topics import REPLY_TOPIC_OF, TOPIC_OF_EVENT_TYPE

# The reply copies, per event type: what a schema registry must know under the reply topics' subjects too.
REPLY_COPY_TOPIC_OF_EVENT_TYPE = {
    event_type: REPLY_TOPIC_OF[topic]
    for event_type, topic in TOPIC_OF_EVENT_TYPE.items()
    if topic in REPLY_TOPIC_OF and REPLY_TOPIC_OF[topic] != topic
}


@dataclass(frozen=True)
class Destination:
    topic: str
    partition: int | None  # None: by key (the correlation id), so one session's events keep their order


def destinations(event: Event) -> tuple[Destination, ...]:
    topic = TOPIC_OF_EVENT_TYPE[event.event_type]
    reply_topic = REPLY_TOPIC_OF.get(topic)
    if reply_topic is None or event.reply_partition is None:
        return (Destination(topic, None),)
    if reply_topic == topic:
        return (Destination(topic, event.reply_partition),)
    return (Destination(topic, None), Destination(reply_topic, event.reply_partition))
