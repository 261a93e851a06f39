"""Outbound composition, pure: templates rendered to text and HTML (`render`), and a
complete RFC 5322 message built from them with safe headers (`compose`).

It never sends (the daemon's sender does), never stores (the outbox in `store` does) and
never imports `inbound`, `store` or `daemon`.
"""
