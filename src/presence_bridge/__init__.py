"""presence-bridge: keeps Nextcloud user status, Slack and Matrix presence in agreement."""

__version__ = "0.1.0"
