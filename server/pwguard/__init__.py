"""pwguard: rules, linter and server that keep Zoho's dangerous password-change boxes unticked."""

__version__ = "0.1.0"
