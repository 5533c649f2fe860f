"""fake_lb: aiohttp load balancers that resolve the service endpoint through fake_dns."""

__all__: list[str] = []
