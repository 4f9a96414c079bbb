"""Pictures that take plain arrays and know nothing of the session: heatmaps, plots, step pictures."""
