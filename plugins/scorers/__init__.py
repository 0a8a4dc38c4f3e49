"""Built-in scorers, one per component of the compound score."""
