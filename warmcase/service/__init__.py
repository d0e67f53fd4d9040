"""The application service: the public commands, grouped by the record they start from."""
