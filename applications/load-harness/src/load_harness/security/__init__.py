"""Security: what is public (public.py), the Host and cross-site gate (origin.py), API key and session auth, and
the response headers every page carries."""
