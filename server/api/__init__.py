"""The JSON HTTP API: one module per resource, each exposing ``routes``."""
