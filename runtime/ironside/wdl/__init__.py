"""The adapter over miniwdl's ``WDL`` package: load, inputs, values, stdlib.

Importing it applies ``grammar`` (WDL's version-aware keywords, on-disk parsers, 1.2 hints)
and ``lenient`` (Object, Cromwell's lenient access).
"""

from ironside.wdl import grammar, lenient

grammar.install()
lenient.install()
