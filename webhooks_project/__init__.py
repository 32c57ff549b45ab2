"""Django project of the Agenta webhook service."""
