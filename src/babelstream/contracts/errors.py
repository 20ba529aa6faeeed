"""Named failures of the contracts layer; each carries what a caller needs to explain it."""


class ContractError(Exception):
    """Base class: an event that cannot be encoded or decoded."""


class PayloadTooLarge(ContractError):
    def __init__(self, size: int, limit: int):
        super().__init__(f"audio payload is {size} bytes, over the {limit}-byte inline cap")
        self.size = size
        self.limit = limit


class EventTooLarge(ContractError):
    def __init__(self, size: int, limit: int):
        super().__init__(f"encoded event is {size} bytes, over the broker's {limit}-byte message limit")
        self.size = size
        self.limit = limit


class MalformedEvent(ContractError):
    """Bytes that are not one of our events: a stage sends these to the dead-letter topic."""


class UnknownSchemaId(MalformedEvent):
    """A Confluent-framed value naming a schema id the registry does not have (its 404 "Schema not found"): the
    message's fault, not the registry's, so a stage dead-letters it instead of waiting as it would for a registry
    that is down (and, on Kafka, holding up the whole partition behind it)."""

    def __init__(self, schema_id: int, registry: str):
        super().__init__(f"schema id {schema_id} is not in the schema registry at {registry}")
        self.schema_id = schema_id


class SchemaRegistryError(ContractError):
    """The registry could not answer (unreachable, or an error that is not the message's): worth waiting out."""
