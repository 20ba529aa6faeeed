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


class SchemaRegistryError(ContractError):
    pass
