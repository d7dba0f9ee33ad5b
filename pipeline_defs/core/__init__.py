"""System-neutral building blocks: lineage nodes, outcomes, column types and the plug-in registry."""
