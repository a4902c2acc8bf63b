"""The runner's HTTP API: the table of routes and their handlers, authentication and the
admission of writes, heartbeats, the answers rendered, what the server says of a request that
does not parse, and the API's two loops.
"""
