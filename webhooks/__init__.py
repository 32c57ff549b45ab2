"""The Agenta webhook service app."""

__version__ = "0.4.0"
