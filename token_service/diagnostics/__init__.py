"""`token-service explain` and `token-service doctor`: name the cause of a 401 in plain words."""
