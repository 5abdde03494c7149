"""Security: API key and session auth, and the response headers every page carries."""
