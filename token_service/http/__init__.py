"""HTTP details shared by the endpoints: strict form parsing, response headers."""
