"""The audit chain streamed out to a SIEM (``ksctl run --audit-sink URL``).

- :mod:`.targets` reads a sink's URL (syslog over TCP or TLS, OTLP/HTTP logs);
- :mod:`.records` makes a row an RFC 5424 message (octet-counted) or an OTLP log record, with
  its seq and chain hashes;
- :mod:`.transport` sends them (a kept TCP/TLS connection, HTTP exports), bounded by a timeout;
- :mod:`.shipper` ships the chain to each sink from its durable cursor, off the tick's loop, and
  gates the operator writes that add risk on them when ``--audit-sink-required`` is set.
"""
