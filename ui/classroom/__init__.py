"""Classroom features: presentation mode, lessons, handouts and exports."""
