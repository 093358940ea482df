"""Per-entity SQL builders: each turns the simulated world into typed records of one landing entity."""
