"""Deploy targets: a lineage's certificate written where other services want it.

``spec`` parses and stores what the operator asked (``--deploy-to FORMAT:PATH``, owner,
mode, reload command); ``render`` makes each format's bytes (PEM, DER, PKCS#12); ``writer``
puts them on disk atomically with owner and mode set before the file appears, never through
a symlink another user planted.
"""
