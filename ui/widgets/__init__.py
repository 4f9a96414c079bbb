"""Reusable picture widgets that take plain numpy arrays."""
