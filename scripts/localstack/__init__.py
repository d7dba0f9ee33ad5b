"""The local stack behind scripts/stack.py, one module per component plus process and install helpers."""
