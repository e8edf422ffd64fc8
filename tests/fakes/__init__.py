"""Stand-ins for outside services that tests reach over real network connections."""
