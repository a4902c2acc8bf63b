"""The operators' commands: those that change the book (audited, applied, saved), resets, manual
closes and their plans, the operators' revokes, the refused closes a person accepts. The desk that
calls them (:mod:`killswitch.face.desk`) and the reads and previews it answers
(:mod:`killswitch.face.readout`) stand above the runner.
"""
