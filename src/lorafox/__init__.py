"""lorafox: a self-hosted backend for Sigfox and LoRa devices."""

__version__ = "0.1.0"
__all__ = ["__version__"]
