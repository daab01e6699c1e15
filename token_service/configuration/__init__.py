"""The pieces `token_service.settings` is built from: where values come from (`sources`),
how problems are worded (`messages`), the TOML tables (`tables`), checks of single
values (`values`) and the key-timing arithmetic (`key_timings`).

Nothing here imports a domain module: configuration is read before anything else exists.
"""
