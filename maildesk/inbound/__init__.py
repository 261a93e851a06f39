"""The inbound pipeline, pure: parse a stored mail, then run the steps of
`pipeline.STEPS` (dedupe, screen, route, thread, decide) over a frozen `Draft`, reading
tickets only through the `View` port and returning effects as data.

It never writes, never opens a database, socket or file, never reads the clock, and
never imports `outbound`, `store` or `daemon`. `quality/` reads a request's usefulness.
"""
