"""One Dagster ConfigurableResource per external system of the CDC pipeline."""
