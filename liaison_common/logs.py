import logging


def configure_logging() -> None:
    """One format for every service; the Kafka clients only speak up when something is wrong."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for chatty in ("kafka", "aiokafka", "httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    # kafka-python warns on every SCRAM login over SASL_PLAINTEXT; the broker listens on
    # loopback only, and SCRAM never sends the password itself.
    logging.getLogger("kafka.net.sasl.scram").setLevel(logging.ERROR)
