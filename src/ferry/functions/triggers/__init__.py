"""What starts an invocation: queue messages, HTTP requests, timer occurrences."""
