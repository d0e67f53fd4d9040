"""Projections: folds of the history, answerable for any point in time."""
