"""What dreamcore knows about Python code, from its AST alone: parsing, fingerprints, data flow,
shape, kinship between procedures, the safety gate for generated code and unified diffs."""
