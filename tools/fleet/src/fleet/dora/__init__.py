"""DORA four-key metrics (`fleet dora`): event format, computation, bands, Pushgateway, GitHub/Flagger adapters."""

from fleet.dora.command import app

__all__ = ["app"]
