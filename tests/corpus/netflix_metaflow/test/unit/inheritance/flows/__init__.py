"""Flow definitions for inheritance tests."""
