"""File features: model files, scenarios and crash recovery."""
