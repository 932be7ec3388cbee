"""Keys, CSRs and certificate checks (on ``cryptography``)."""
