"""Built-in dream generators, one per dream type."""
