"""The generate phase: mining procedures, the generate stage, and what a generator works with."""
