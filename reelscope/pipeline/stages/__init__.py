"""Built-in stages; every module here registers its stages on import."""
