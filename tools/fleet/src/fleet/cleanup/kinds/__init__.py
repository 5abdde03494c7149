"""Finders and deleters, one module per family of resource kinds; `finders.py` and `deleters.py` run them."""
