"""Enactors written as ordinary asyncio code (see README: "Your own enactor")."""
