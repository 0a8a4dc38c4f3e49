"""Built-in evaluation parsers."""
