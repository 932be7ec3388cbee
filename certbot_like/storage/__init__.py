"""Everything that knows certbot's on-disk layout."""
