"""The shell: the composition root (`app`), the SMTP listener, IMAP watchers, worker
processes, the relay sender, the scheduler's tick, cluster membership, and process
plumbing (the doorbell between processes, memory trimming).

Everything with a socket, a thread, a process or the wall clock lives here; it decides
nothing about tickets itself, it runs the pure core and the store.
"""
