"""Notes: short texts a user keeps, the example resource behind `notes:read` / `notes:write`."""
