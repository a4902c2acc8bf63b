"""A shard's part in the firm: its facts published, the firm lease, the firm-wide policies
evaluated and their directives carried out, handed the runner's parts behind the ports of
:mod:`.ports`, never the runner.
"""
