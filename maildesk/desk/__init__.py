"""The ticket domain, pure: effects as data, the read port (`View`, `TicketRef`), statuses
and their transitions, lifecycle planning, labels, business hours, service levels and the
reminder ladder.

It never touches a database, socket or clock (time is always a `now` argument) and
imports nothing of maildesk but `config` and the small leaves.
"""
