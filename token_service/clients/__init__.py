"""Registered clients and their authentication."""
