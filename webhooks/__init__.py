"""The Agenta webhook service app."""

__version__ = "0.1.0"
