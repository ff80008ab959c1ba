"""vcrpy cassettes: the tape a test records into and replays from, the file format, request diffs."""
