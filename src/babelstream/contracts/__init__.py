"""Event contracts: the Avro schemas (source of truth), the Python records that mirror them, topics and codecs."""
