"""warmcase's edges: codec, storage, keys, composition. Installed as ``warmcase_adapters``."""
