"""Flow definitions for Config tests."""
