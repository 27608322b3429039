"""The process's configuration, shared by the API (graph), the workers (jobs) and the CLI."""

from config.settings import Settings, get_settings

__all__ = ["Settings", "get_settings"]
