"""maildesk: a customer-services desk run over plain email.

Packages by role, top to bottom (arrows point down only; tests/architecture says so):
`cli` (the command line) > `daemon` (the shell: sockets, processes, threads) > `store`
(the database: models, migrations, the one writer) > `inbound` | `outbound` (the pure
pipeline and the pure composition of mail) > `desk` (the pure ticket domain) > `config`
> the small leaves (`addresses`, `msgid`, `clock`, `logs`). This file imports nothing.
"""

__version__ = "0.1.0"
