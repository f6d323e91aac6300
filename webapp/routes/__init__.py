"""HTTP routes, one module per area; each module exports `routes = [...]` for webapp.app."""
