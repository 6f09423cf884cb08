"""Small shared utilities: console output, config validation."""
