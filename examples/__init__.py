"""Enactors written as ordinary asyncio code (see docs/how-to/your-enactor.md)."""
