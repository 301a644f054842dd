"""TeleBot live risk and reconciliation dashboard."""

__version__ = "0.1.0"
