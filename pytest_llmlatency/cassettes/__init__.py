"""vcrpy cassettes: the tape a test records into and replays from, the file format, request diffs,
the message when no recording answers, a recording converted between streamed and not."""
