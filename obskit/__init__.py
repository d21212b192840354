"""obskit."""
