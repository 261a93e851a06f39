"""Storage: the schema (`models`) and its migrations, engines (`db`), the spool of raw
mail, the outbox, the SQL answer to the pipeline's `View`, reports, and the one writer
(`writer.apply`) through which every change of a ticket goes, the time rules' included.

It never opens a socket and never sends mail; it is called by the daemon and the command
line, and calls only the pure packages below it.
"""
