"""Signing people in: upstream connectors, browser sessions, pending authorization requests."""
