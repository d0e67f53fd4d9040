"""The `warmcase` command: demo, reports, audit trails, samples, imports, exports, workers."""
