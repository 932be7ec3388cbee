"""Use cases (obtain, renew, revoke ...) as plain functions taking explicit arguments."""
