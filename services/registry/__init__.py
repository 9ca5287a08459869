"""The registry: the organisation of the seed, tokens and routing rules, published to Kafka."""
