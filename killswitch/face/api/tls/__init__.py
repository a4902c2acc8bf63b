"""TLS on the API's listener: the web config file (:mod:`.webconfig`, the exporter-toolkit format
Prometheus's ``--web.config.file`` reads) and the server's context built from it, read again when
a file changes (:mod:`.context`)."""
