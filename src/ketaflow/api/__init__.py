"""The REST API (django-ninja, OpenAPI 3): scoped, expiring, hashed tokens per user and clinic,
and endpoints that call the same access functions, selectors and services as the pages."""
