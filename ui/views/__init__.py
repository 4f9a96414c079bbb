"""Views of the session: each takes the SessionBridge and repaints on its signals."""
