"""People the service issues tokens for: local password users and users from upstream logins."""
