"""reproducer: the October 2025 DynamoDB DNS race, as racing enactors over real DNS."""

from reproducer._health import BackendHealth, HealthSource, ScriptedHealth

__all__ = ["BackendHealth", "HealthSource", "ScriptedHealth"]
