"""The JSON API: one blueprint per purpose, pydantic models, RFC 9457 problems, OpenAPI from the models."""
