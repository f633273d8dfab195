"""Sub-commands of the `workbench` console script, one module each."""
