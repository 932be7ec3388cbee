"""`make bench`: certbot-like side by side with certbot 5.8 and acme-tiny on one Pebble."""
