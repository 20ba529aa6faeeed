"""The bus between the gateway and the stages: in-memory (embedded) or Apache Kafka (distributed)."""
