"""The domain: one aggregate per module, each read top to bottom as
state, events, errors, decisions, evolution."""
