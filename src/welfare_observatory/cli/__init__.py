"""The ``welfare-observatory`` command. One module per command group, imported on demand."""
