"""Stepformer user interface."""
