"""Thin views: parse -> pydantic -> use case -> response."""
